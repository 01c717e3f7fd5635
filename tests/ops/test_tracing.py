"""OpenTelemetry tracing (GATEWAY_OTEL_ENABLED): one chat request, over REST and over GraphQL,
is one trace (HTTP -> route or operation -> SQL and upstream), and the upstream receives the
trace's `traceparent`. With tracing off nothing of OpenTelemetry is imported."""

from __future__ import annotations

import importlib.util
import io
import json
import logging
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, Sampler
from opentelemetry.trace import SpanKind
from pydantic import ValidationError

from gateway.app import create_app
from gateway.config import Settings
from gateway.observability import tracing
from gateway.observability.logging import make_handler
from gateway.users.models import Role
from tests.conftest import Api, make_settings
from tests.sessions.conftest import World, seed
from tests.upstream_stub import Stub

SEND = """
mutation Send($s: ID!, $subj: ID!, $c: String!) {
  sendMessage(input: {sessionId: $s, subjectId: $subj, content: $c}) {
    session { id messageCount }
    assistantMessage { content }
  }
}"""


@pytest.fixture
def sampler() -> Sampler:
    return ALWAYS_ON


@pytest.fixture
def exporter(sampler: Sampler) -> Iterator[InMemorySpanExporter]:
    """The SDK's in-memory exporter, on a provider the gateway is told to use."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(sampler=sampler)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracing.use(provider)
    yield memory
    tracing.use(None)
    provider.shutdown()


@pytest.fixture
async def world(api: Api, stub: Stub) -> World:
    """tests/sessions' world: ana enrolled in INF001 (whose professor is prof)."""
    tokens = {name: await api.user(name) for name in ("ana", "bob", "carl")}
    prof = await api.user("prof", Role.PROFESSOR)
    admin = await api.user("root", Role.ADMIN)
    await seed(api.gateway)
    return World(api=api, prof=prof, admin=admin, **tokens)


@pytest.fixture
async def traced(
    settings: Settings, exporter: InMemorySpanExporter
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        make_settings(
            settings.database_url,
            chatbot_url=settings.chatbot_url,
            otel_enabled=True,
            otel_resolver_threshold_ms=0,
        )
    )
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://traced") as client:
            yield client


def parent_chain(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[ReadableSpan]:
    chain = []
    while span.parent is not None:
        span = by_id[span.parent.span_id]
        chain.append(span)
    return chain


class Trace:
    def __init__(self, spans: Sequence[ReadableSpan]) -> None:
        assert spans, "no span exported"
        ids = {s.context.trace_id for s in spans}
        assert len(ids) == 1, f"{len(ids)} traces: {[s.name for s in spans]}"
        self.trace_id = ids.pop()
        self.spans = list(spans)
        self.by_id = {s.context.span_id: s for s in spans}

    def one(self, name: str, kind: SpanKind | None = None) -> ReadableSpan:
        found = [s for s in self.spans if s.name == name and (kind is None or s.kind == kind)]
        assert len(found) == 1, (name, [s.name for s in self.spans])
        return found[0]

    def sql(self) -> list[ReadableSpan]:
        return [s for s in self.spans if (s.attributes or {}).get("db.system")]

    def upstream(self) -> ReadableSpan:
        calls = [s for s in self.spans if s.kind == SpanKind.CLIENT and s not in self.sql()]
        assert len(calls) == 1, [s.name for s in calls]
        return calls[0]

    def under(self, span: ReadableSpan, ancestor: ReadableSpan) -> bool:
        return ancestor in parent_chain(span, self.by_id)

    def is_parent_in(self, traceparent: str, span: ReadableSpan) -> bool:
        version, trace_id, parent_id, flags = traceparent.split("-")
        return (version, trace_id, parent_id) == (
            "00",
            f"{self.trace_id:032x}",
            f"{span.context.span_id:016x}",
        ) and bool(int(flags, 16) & 1)  # sampled


def check_common(
    found: Trace, path: str, route: ReadableSpan, response: httpx.Response, stub: Stub
) -> None:
    """HTTP span (root) -> route or operation span -> every SQL span and the upstream call."""
    http = found.one(f"POST {path}", SpanKind.SERVER)
    assert http.parent is None
    attributes = http.attributes or {}
    assert attributes["gateway.request_id"] == response.headers["x-request-id"]
    assert found.under(route, http)
    statements = found.sql()
    assert statements, "no SQL span"
    assert all(found.under(s, route) for s in statements), [
        (s.name, [p.name for p in parent_chain(s, found.by_id)]) for s in statements
    ]
    upstream = found.upstream()
    assert found.under(upstream, route)
    # The upstream saw this trace, with the client span as its parent.
    assert found.is_parent_in(stub.headers[-1]["traceparent"], upstream)


async def test_a_rest_chat_request_is_one_trace(
    traced: httpx.AsyncClient, world: World, stub: Stub, exporter: InMemorySpanExporter
) -> None:
    exporter.clear()  # the fixtures' own requests
    response = await traced.post(
        "/chat",
        json={"id": "t-1", "asignatura": "INF001", "content": "¿Qué es un árbol?"},
        headers=world.h(world.ana),
    )
    assert response.status_code == 200, response.text
    found = Trace(exporter.get_finished_spans())
    route = found.one("POST /chat", SpanKind.INTERNAL)  # the REST route's span
    assert (route.attributes or {})["http.route"] == "/chat"
    check_common(found, "/chat", route, response, stub)


async def test_a_graphql_send_message_is_one_trace(
    traced: httpx.AsyncClient, world: World, stub: Stub, exporter: InMemorySpanExporter
) -> None:
    exporter.clear()
    response = await traced.post(
        "/graphql",
        json={"query": SEND, "variables": {"s": "t-2", "subj": "INF001", "c": "¿Un grafo?"}},
        headers=world.h(world.ana),
    )
    assert response.status_code == 200 and "errors" not in response.json(), response.text
    found = Trace(exporter.get_finished_spans())
    operation = found.one("mutation Send")
    attributes = operation.attributes or {}
    assert attributes["graphql.operation.name"] == "Send"
    assert attributes["graphql.operation.type"] == "mutation"
    assert isinstance(attributes["graphql.operation.cost"], int)
    http = found.one("POST /graphql", SpanKind.SERVER)
    assert operation.parent is not None and operation.parent.span_id == http.context.span_id
    # threshold 0: every resolver that ran has its span, under the operation
    resolver = found.one("resolve Mutation.sendMessage")
    assert resolver.parent is not None and resolver.parent.span_id == operation.context.span_id
    check_common(found, "/graphql", operation, response, stub)


@pytest.mark.parametrize("sampler", [ALWAYS_OFF])
async def test_an_unsampled_chat_records_nothing_and_says_so_upstream(
    traced: httpx.AsyncClient, world: World, stub: Stub, exporter: InMemorySpanExporter
) -> None:
    for path, body in (
        ("/chat", {"id": "u-1", "asignatura": "INF001", "content": "¿Una pila?"}),
        ("/graphql", {"query": SEND, "variables": {"s": "u-2", "subj": "INF001", "c": "¿Cola?"}}),
    ):
        response = await traced.post(path, json=body, headers=world.h(world.ana))
        assert response.status_code == 200 and "errors" not in response.json(), response.text
        flags = stub.headers[-1]["traceparent"].split("-")[3]
        assert int(flags, 16) & 1 == 0  # not sampled: the upstream should not record either
    assert exporter.get_finished_spans() == ()


async def test_graphql_errors_mark_the_operation_span(
    traced: httpx.AsyncClient, exporter: InMemorySpanExporter
) -> None:
    response = await traced.post("/graphql", json={"query": "query Me { me { id } }"})
    assert response.status_code == 200 and response.json()["errors"]
    operation = Trace(exporter.get_finished_spans()).one("query Me")
    assert (operation.attributes or {})["graphql.error.code"] == "UNAUTHENTICATED"


async def test_a_repeated_operation_is_traced_each_time(
    traced: httpx.AsyncClient, exporter: InMemorySpanExporter
) -> None:
    """With tracing on, strawberry's path serves every GraphQL request (gateway/graphql/
    direct.py is off): a validated document's later requests get their spans too."""
    for _ in range(3):
        exporter.clear()
        response = await traced.post("/graphql", json={"query": "query Again { __typename }"})
        assert response.json() == {"data": {"__typename": "Query"}}
        Trace(exporter.get_finished_spans()).one("query Again")


async def test_json_log_lines_carry_the_trace_id(
    traced: httpx.AsyncClient, exporter: InMemorySpanExporter
) -> None:
    stream = io.StringIO()
    handler = make_handler(json_logs=True, stream=stream)  # what `serve` logs through
    access = logging.getLogger("gateway.access")
    level = access.level
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    try:
        response = await traced.get("/subjects")
    finally:
        access.removeHandler(handler)
        access.setLevel(level)
    http = Trace(exporter.get_finished_spans()).one("GET /subjects", SpanKind.SERVER)
    [text] = stream.getvalue().splitlines()
    line: dict[str, Any] = json.loads(text)
    assert line["trace_id"] == f"{http.context.trace_id:032x}"
    assert line["request_id"] == response.headers["x-request-id"]


async def test_probes_and_scrapes_are_not_traced(
    traced: httpx.AsyncClient, exporter: InMemorySpanExporter
) -> None:
    assert (await traced.get("/metrics")).status_code == 200
    assert (await traced.get("/health")).status_code == 200
    assert exporter.get_finished_spans() == ()


def test_tracing_off_imports_no_sdk_and_no_instrumentation(settings: Settings) -> None:
    """FastAPI itself imports the OpenTelemetry API (its native telemetry stays off while no
    provider is installed); the SDK, exporters and instrumentations stay out."""
    script = (
        "import sys\n"
        "from gateway.app import create_app\n"
        "from gateway.config import Settings\n"
        "from gateway.adapters.tutor_client import build_http_client\n"
        f"s = Settings(env='test', jwt_secret='x' * 40, database_url={settings.database_url!r})\n"
        "create_app(s); build_http_client(s)\n"
        "heavy = ('opentelemetry.sdk', 'opentelemetry.instrumentation', "
        "'opentelemetry.exporter', 'gateway.observability.tracing')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


def test_tracing_on_without_the_packages_is_refused_at_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name.startswith("opentelemetry") else real(name, *a),
    )
    with pytest.raises(ValidationError, match=r"study-gateway\[otel\]"):
        Settings(env="test", jwt_secret="x" * 40, otel_enabled=True)
