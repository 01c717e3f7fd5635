"""OpenTelemetry tracing (GATEWAY_OTEL_ENABLED). Imported only when enabled: with tracing off
nothing of OpenTelemetry is imported, wrapped or instrumented.

The exporter, the service name and the sampler follow the standard variables
(OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME, OTEL_TRACES_SAMPLER / _ARG). A tracer
provider already installed globally (by `opentelemetry-instrument`, or by the tests with an
in-memory exporter) is used as it is."""

from __future__ import annotations

import os
from typing import Any

import httpx
from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.metrics import get_meter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.observability import logging as gateway_logging
from gateway.observability.middleware import RequestObservability, route_template

DEFAULT_SERVICE_NAME = "study-gateway"
# Scrapes and probes would drown the traces that matter (they are in the metrics anyway).
EXCLUDED_URLS = "/metrics$,/health"
REQUEST_ID_ATTRIBUTE = "gateway.request_id"


_provider: TracerProvider | None = None


def use(tracer_provider: TracerProvider | None) -> None:
    """Use this provider instead of building one (tests: an in-memory exporter). It is passed
    to each instrumentation explicitly and never installed globally, so FastAPI's native
    telemetry (on whenever a global provider is set) stays off for other apps."""
    global _provider
    _provider = tracer_provider


def provider() -> TracerProvider:
    """The process's tracer provider: the one given to use(), else a globally installed one,
    else one exporting over OTLP (installed globally for other libraries to use)."""
    global _provider
    if _provider is not None:
        return _provider
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        _provider = current
        return current
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    name = os.environ.get("OTEL_SERVICE_NAME") or DEFAULT_SERVICE_NAME
    # No sampler argument: the SDK reads OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG.
    built = TracerProvider(resource=Resource.create({SERVICE_NAME: name}))
    built.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(built)
    _provider = built
    return built


def _trace_ids() -> dict[str, str]:
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return {}
    return {"trace_id": f"{context.trace_id:032x}", "span_id": f"{context.span_id:016x}"}


class SpanDetails:
    """Inside RequestObservability: the request id on the HTTP span, and its name and
    `http.route` from the route template once routing is done (never the raw path)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        span = trace.get_current_span()
        if not span.is_recording():
            await self.app(scope, receive, send)
            return
        span.set_attribute(REQUEST_ID_ATTRIBUTE, gateway_logging.request_id.get())
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_naming_span(message: Message) -> None:
            # Routing is done; the span ends with the last body message, before we return.
            if message["type"] == "http.response.start":
                route = route_template(scope)
                span.set_attribute("http.route", route)
                span.update_name(f"{scope.get('method', 'HTTP')} {route}")
            await send(message)

        await self.app(scope, receive, send_naming_span)


def _method_only(scope: Scope) -> tuple[str, dict[str, Any]]:
    """The span's first name: renamed with the route template by SpanDetails."""
    return str(scope.get("method") or scope.get("type", "")), {}


def install(engine: AsyncEngine, rest_app: FastAPI, middleware: list[Middleware]) -> None:
    """Instrument one process: HTTP server spans (outermost), REST route spans, SQL spans on
    its engine, and the trace id on every log line. The upstream client is instrumented when
    it is built (instrument_http_client)."""
    tracer_provider = provider()
    # Right inside RequestObservability (which sets the request id), else outermost.
    observed = [i for i, m in enumerate(middleware) if m.cls is RequestObservability]
    middleware.insert(observed[0] + 1 if observed else 0, Middleware(SpanDetails))
    middleware.insert(
        0,
        Middleware(
            OpenTelemetryMiddleware,
            tracer_provider=tracer_provider,
            excluded_urls=EXCLUDED_URLS,
            default_span_details=_method_only,
            exclude_spans=["receive", "send"],
        ),
    )
    instrument_rest(rest_app, tracer_provider)
    instrument_engine(engine, tracer_provider)
    gateway_logging.trace_ids = _trace_ids


class SampledOnly:
    """The REST app's instrumented stack for sampled requests, its plain stack for the others:
    the route span is a child of the HTTP span, so it can only be sampled when that one is,
    and the instrumentation's work (a second pass over the headers, a second route match)
    would be spent on nothing. `.app` leads to the instrumented stack, where FastAPI looks
    for the OpenTelemetry middleware before switching its native telemetry on."""

    def __init__(self, traced: ASGIApp, plain: ASGIApp) -> None:
        self.app = traced
        self.plain = plain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if trace.get_current_span().is_recording():
            await self.app(scope, receive, send)
        else:
            await self.plain(scope, receive, send)


def instrument_rest(rest_app: FastAPI, tracer_provider: TracerProvider) -> None:
    """REST route spans (opentelemetry-instrumentation-fastapi), for sampled requests only."""
    build_plain = rest_app.build_middleware_stack
    FastAPIInstrumentor.instrument_app(
        rest_app,
        tracer_provider=tracer_provider,
        excluded_urls=EXCLUDED_URLS,
        exclude_spans=["receive", "send"],
    )
    build_traced = rest_app.build_middleware_stack

    def build_both() -> ASGIApp:
        return SampledOnly(build_traced(), build_plain())

    rest_app.build_middleware_stack = build_both  # type: ignore[method-assign]


def instrument_engine(engine: AsyncEngine, tracer_provider: TracerProvider) -> None:
    """One span per SQL statement. The instrumentor's own `instrument(engine=...)` works once
    per process (and patches create_engine globally); its EngineTracer is per engine."""
    from opentelemetry.instrumentation.sqlalchemy import __name__ as name
    from opentelemetry.instrumentation.sqlalchemy.version import __version__

    usage = get_meter(name, __version__).create_up_down_counter(
        "db.client.connections.usage", unit="connections"
    )
    EngineTracer(trace.get_tracer(name, __version__, tracer_provider), engine.sync_engine, usage)


def instrument_http_client(client: httpx.AsyncClient) -> None:
    """Client spans for upstream calls, and the W3C `traceparent` header sent with each."""
    HTTPXClientInstrumentor.instrument_client(client, tracer_provider=provider())


def flush() -> None:
    provider().force_flush()
