"""The GraphQL operation span (name, type, cost) and spans for slow resolvers only.

strawberry's OpenTelemetryExtension opens a span for every resolver (a page of 100 items is
hundreds of spans), does not make the operation span current (SQL and upstream spans then hang
under the HTTP span), names every operation "GraphQL Query" and records the whole query text.
This one makes the operation span current, so the SQL and upstream spans of its resolvers are
its children, and records a resolver span only when that resolver took at least the threshold
(GATEWAY_OTEL_RESOLVER_THRESHOLD_MS): such a span is written after the fact with its real start
time, so it sits beside, not above, the SQL spans of that resolver."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from inspect import isawaitable
from typing import Any

from graphql import GraphQLResolveInfo
from opentelemetry import context, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer
from strawberry.extensions import SchemaExtension
from strawberry.extensions.utils import get_path_from_info

from gateway.graphql.documents import select_operation
from gateway.graphql.limits import measure
from gateway.observability import tracing
from gateway.observability.graphql import operation_label

TRACER_NAME = "gateway.graphql"


class GraphQLTracing(SchemaExtension):
    def __init__(self, tracer: Tracer, threshold_ms: float) -> None:
        self._threshold_ns = int(threshold_ms * 1_000_000)
        self._tracer = tracer
        self._span: Span | None = None

    @classmethod
    def factory(cls, threshold_ms: float) -> Callable[[], GraphQLTracing]:
        tracer = trace.get_tracer(TRACER_NAME, tracer_provider=tracing.provider())
        return lambda: cls(tracer, threshold_ms)

    def on_operation(self) -> Iterator[None]:
        span = self._tracer.start_span("GraphQL operation", kind=SpanKind.INTERNAL)
        if not span.is_recording():  # not sampled: nothing more to do
            yield
            return
        self._span = span
        token = context.attach(trace.set_span_in_context(span))
        try:
            yield
        finally:
            context.detach(token)
            self._finish(span)

    def _finish(self, span: Span) -> None:
        ec = self.execution_context
        document = ec.graphql_document
        operation = select_operation(document, ec.operation_name) if document else None
        if operation is not None and document is not None:
            name = operation_label(operation.name.value if operation.name else None)
            kind = operation.operation.value
            span.update_name(f"{kind} {name}")
            span.set_attribute("graphql.operation.name", name)
            span.set_attribute("graphql.operation.type", kind)
            try:
                cost = measure(ec.schema._schema, document, ec.operation_name, ec.variables).cost
                span.set_attribute("graphql.operation.cost", cost)
            except RecursionError:
                pass
        errors = getattr(ec.result, "errors", None) or ec.pre_execution_errors or []
        if errors:
            code = (errors[0].extensions or {}).get("code")
            span.set_attribute("graphql.error.code", code if isinstance(code, str) else "error")
            span.set_status(Status(StatusCode.ERROR))
        span.end()

    def resolve(
        self,
        _next: Callable[..., Any],
        root: Any,
        info: GraphQLResolveInfo,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        if self._span is None:
            return _next(root, info, *args, **kwargs)
        start_ns = time.time_ns()
        started = time.perf_counter_ns()
        result = _next(root, info, *args, **kwargs)
        if isawaitable(result):
            return self._await(result, info, start_ns, started)
        self._record(info, start_ns, started)
        return result

    async def _await(
        self, result: Awaitable[Any], info: GraphQLResolveInfo, start_ns: int, started: int
    ) -> Any:
        try:
            return await result
        finally:
            self._record(info, start_ns, started)

    def _record(self, info: GraphQLResolveInfo, start_ns: int, started: int) -> None:
        elapsed = time.perf_counter_ns() - started
        if elapsed < self._threshold_ns or self._span is None:
            return
        span = self._tracer.start_span(
            f"resolve {info.parent_type.name}.{info.field_name}",
            context=trace.set_span_in_context(self._span),
            start_time=start_ns,
        )
        span.set_attribute("graphql.field.path", ".".join(map(str, get_path_from_info(info))))
        span.end(end_time=start_ns + elapsed)
