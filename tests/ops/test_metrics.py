"""GET /metrics: HTTP by route template, GraphQL operations, upstream calls, the DB pool."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from gateway.config import Settings
from gateway.observability.metrics import observe_upstream
from gateway.users.models import Role
from tests.conftest import Api
from tests.ops.conftest import Server, server_env


def samples(body: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    out: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(body):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


async def scrape(api: Api) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    r = await api.client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    return samples(r.text)


def value(
    data: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return data.get((name, frozenset(labels.items())), 0.0)


async def test_http_requests_are_counted_by_route_template_never_raw_path(api: Api) -> None:
    token = await api.user("prof", role=Role.PROFESSOR)
    await api.register("someone")
    before = await scrape(api)
    headers = {"Authorization": f"Bearer {token}"}
    for name in ("someone", "nobody-here"):
        await api.client.get(f"/users/{name}", headers=headers)
    await api.client.get("/no/such/path/123")
    await api.client.request("BREW", "/users/someone")
    after = await scrape(api)

    key = "gateway_http_requests_total"
    route = "/users/{username}"
    assert (
        value(after, key, method="GET", route=route, status="200")
        - value(before, key, method="GET", route=route, status="200")
        == 1
    )
    assert (
        value(after, key, method="GET", route=route, status="404")
        - value(before, key, method="GET", route=route, status="404")
        == 1
    )
    assert (
        value(after, key, method="GET", route="unmatched", status="404")
        - value(before, key, method="GET", route="unmatched", status="404")
        == 1
    )
    assert (
        value(after, key, method="other", route=route, status="405")
        - value(before, key, method="other", route=route, status="405")
        == 1
    )
    routes = {dict(labels).get("route") for (name, labels) in after if name == key}
    assert not any("someone" in r or "nobody" in r or "123" in r for r in routes if r), routes
    hist = "gateway_http_request_duration_seconds_count"
    assert (
        value(after, hist, method="GET", route=route)
        - value(before, hist, method="GET", route=route)
        == 2
    )
    assert (
        value(
            after,
            "gateway_http_request_duration_seconds_bucket",
            method="GET",
            route=route,
            le="+Inf",
        )
        >= 2
    )


async def test_graphql_operations_by_name_type_and_outcome(api: Api) -> None:
    token = await api.user("gqluser")
    before = await scrape(api)
    await api.gql("query MyProfile { me { username } }", token=token)
    await api.gql("query MyProfile { me { username } }")  # no token: UNAUTHENTICATED
    await api.gql(
        "mutation SignIn($u: String!) "
        '{ login(input: {username: $u, password: "wrong-password"}) { accessToken } }',
        {"u": "gqluser"},
    )
    after = await scrape(api)
    ops = "gateway_graphql_operations_total"

    def delta(**labels: str) -> float:
        return value(after, ops, **labels) - value(before, ops, **labels)

    assert delta(operation="MyProfile", type="query", outcome="ok") == 1
    assert delta(operation="MyProfile", type="query", outcome="UNAUTHENTICATED") == 1
    assert delta(operation="SignIn", type="mutation", outcome="UNAUTHENTICATED") == 1
    count = "gateway_graphql_operation_duration_seconds_count"
    assert (
        value(after, count, operation="MyProfile", type="query")
        - value(before, count, operation="MyProfile", type="query")
        == 2
    )


async def test_upstream_calls_helper_appears_in_metrics(api: Api) -> None:
    before = await scrape(api)
    observe_upstream("ok", 0.2)
    observe_upstream("ok", 0.3)
    observe_upstream("timeout", 120.0)
    after = await scrape(api)
    calls = "gateway_upstream_requests_total"
    assert value(after, calls, outcome="ok") - value(before, calls, outcome="ok") == 2
    assert value(after, calls, outcome="timeout") - value(before, calls, outcome="timeout") == 1
    total = "gateway_upstream_request_duration_seconds_sum"
    assert abs(value(after, total, outcome="ok") - value(before, total, outcome="ok") - 0.5) < 1e-9


async def test_db_pool_gauge_follows_checked_out_connections(api: Api) -> None:
    gauge = "gateway_db_pool_connections_in_use"
    idle = value(await scrape(api), gauge)
    async with api.gateway.db.read() as db:
        await db.execute(text("SELECT 1"))  # checks a connection out until the block ends
        busy = value(await scrape(api), gauge)
    assert busy == idle + 1
    assert value(await scrape(api), gauge) == idle


async def test_metrics_needs_no_auth_and_lists_every_family(api: Api) -> None:
    r = await api.client.get("/metrics")
    assert r.status_code == 200
    for family in (
        "gateway_http_requests_total",
        "gateway_http_request_duration_seconds",
        "gateway_graphql_operations_total",
        "gateway_graphql_operation_duration_seconds",
        "gateway_upstream_requests_total",
        "gateway_upstream_request_duration_seconds",
        "gateway_db_pool_connections_in_use",
        "gateway_rate_limited_total",
    ):
        assert re.search(rf"^# TYPE {family} ", r.text, re.M), family


def test_several_workers_share_one_metrics_view(
    serve: Callable[..., Server], settings: Settings
) -> None:
    """Two uvicorn workers in multiprocess mode: every request is counted whichever worker
    served it, and whichever worker answers the scrape."""
    with tempfile.TemporaryDirectory() as directory:
        server = serve(
            server_env(settings.database_url, PROMETHEUS_MULTIPROC_DIR=directory), "--workers", "2"
        )
        with httpx.Client(base_url=server.url, timeout=10) as client:

            def health_count() -> float:
                data = samples(client.get("/metrics").text)
                return value(
                    data, "gateway_http_requests_total", method="GET", route="/health", status="200"
                )

            before = health_count()  # the start-up probe(s)
            n = 40
            for _ in range(n):
                # A new connection each time, so that both workers take some.
                assert httpx.get(f"{server.url}/health", timeout=10).status_code == 200
            counts = [health_count() for _ in range(4)]
        # Every scrape, whichever worker answers it, sees all n calls.
        assert counts == [before + n] * 4, (before, counts)
        # Each worker keeps its own sample files there (its live gauges are created at import).
        assert len(list(Path(directory).glob("gauge_livesum_*.db"))) == 2
