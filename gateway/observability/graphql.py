"""GraphQL operations metric, and the request id on every GraphQL error."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

from graphql import DocumentNode, GraphQLError
from strawberry.extensions import SchemaExtension

from gateway.graphql.documents import select_operation
from gateway.observability import metrics
from gateway.observability.logging import request_id

# Operation names come from clients: past this many distinct names, new ones are counted
# as "other" so that nobody can grow the metrics without bound.
MAX_OPERATION_NAMES = 200
_NAME = re.compile(r"^[_A-Za-z][_0-9A-Za-z]{0,99}$")
_names: set[str] = set()


def operation_label(name: str | None) -> str:
    if not name:
        return "anonymous"
    if name in _names:
        return name
    if len(_names) < MAX_OPERATION_NAMES and _NAME.match(name):
        _names.add(name)
        return name
    return "other"


def operation_of(document: DocumentNode | None, operation_name: str | None) -> tuple[str, str]:
    """The metric labels (name, kind) of the operation a request runs."""
    if document is None:
        return "unparsed", "unknown"
    op = select_operation(document, operation_name)
    if op is None:
        return "unknown", "unknown"
    return operation_label(op.name.value if op.name else None), op.operation.value


def outcome_of(errors: list[GraphQLError] | None) -> str:
    """The outcome label of an operation's final errors; each error is counted and gets the
    request id."""
    if not errors:
        return "ok"
    code = (errors[0].extensions or {}).get("code")
    rid = request_id.get()
    for error in errors:
        metrics.count_graphql_error((error.extensions or {}).get("code"))
        error.extensions = {**(error.extensions or {}), "requestId": rid}
    return code if isinstance(code, str) else "error"


def record(labels: tuple[str, str], outcome: str, started: float) -> None:
    name, kind = labels
    metrics.child(metrics.GRAPHQL_OPERATIONS, name, kind, outcome).inc()
    metrics.child(metrics.GRAPHQL_LATENCY, name, kind).observe(time.perf_counter() - started)


class GraphQLObservability(SchemaExtension):
    """Put it first in the extension list: its post-processing then runs last, after the
    errors have their final form."""

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        outcome = "error"
        try:
            yield
            outcome = outcome_of(getattr(self.execution_context.result, "errors", None))
        finally:
            ec = self.execution_context
            record(operation_of(ec.graphql_document, ec.operation_name), outcome, started)
