"""Health, GraphiQL, the GraphQL-over-HTTP basics, the exported SDL and the error model."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.graphql.schema import build_schema
from gateway.users import service as users_service
from tests.conftest import Api

ROOT = Path(__file__).resolve().parents[2]


async def test_health_and_readiness(api: Api) -> None:
    r = await api.client.get("/health")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    ready = await api.client.get("/health/ready")
    assert ready.status_code == 200 and ready.json() == {"status": "ok", "database": "ok"}


async def test_graphiql_page_in_a_browser(api: Api) -> None:
    r = await api.client.get("/graphql", headers={"Accept": "text/html"})
    assert r.status_code == 200
    assert "graphiql" in r.text.lower()


async def test_graphql_query_over_get(api: Api) -> None:
    token = await api.user("gabriel")
    r = await api.client.get(
        "/graphql",
        params={"query": "{ me { username } }"},
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
    )
    assert r.status_code == 200 and r.json() == {"data": {"me": {"username": "gabriel"}}}


async def test_mutation_over_get_is_refused(api: Api) -> None:
    r = await api.client.get(
        "/graphql",
        params={
            "query": 'mutation { register(input: {username: "getter", email: "g@example.com",'
            ' password: "long-enough-1"}) { user { username } } }'
        },
        headers={"Accept": "application/json"},
    )
    assert r.status_code in (400, 405)
    login = await api.client.post(
        "/token", data={"username": "getter", "password": "long-enough-1"}
    )
    assert login.status_code == 401


async def test_unknown_route_is_json_404(api: Api) -> None:
    r = await api.client.get("/nope")
    assert r.status_code == 404 and r.json() == {"detail": "Not Found"}


async def test_openapi_and_docs_are_served(api: Api) -> None:
    spec = (await api.client.get("/openapi.json")).json()
    for path in (
        "/register",
        "/token",
        "/users/me",
        "/users/{username}",
        "/admin/users",
        "/admin/users/{username}/role",
        "/health",
    ):
        assert path in spec["paths"], path
    assert (await api.client.get("/docs")).status_code == 200
    assert (await api.client.get("/redoc")).status_code == 200


def test_committed_schema_graphql_is_current() -> None:
    """`gateway export-schema` regenerates schema.graphql; this fails when someone forgot."""
    committed = (ROOT / "schema.graphql").read_text()
    assert committed == build_schema().as_str() + "\n", "run `gateway export-schema`"


async def test_unexpected_errors_are_masked(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug (simulated by breaking the service) never leaks its text or a traceback."""

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("secret internals: /etc/passwd")

    token = await api.user("gabriel")
    # Both faces' `me` go through it (REST via users.service.me).
    monkeypatch.setattr(users_service, "loaded_profile", broken)
    r = await api.client.get("/users/me", headers={"Authorization": f"Bearer {token}"})
    body = await api.gql("{ me { username } }", token=token)
    assert r.status_code == 500 and r.json() == {"detail": "Internal server error"}
    assert body["errors"][0]["message"] == "Internal server error"
    assert body["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert "passwd" not in r.text and "passwd" not in str(body)


async def test_cors_allows_only_configured_origins(api: Api) -> None:
    ok = await api.client.options(
        "/users/me",
        headers={"Origin": "http://localhost:5173", "Access-Control-Request-Method": "PUT"},
    )
    assert ok.headers["access-control-allow-origin"] == "http://localhost:5173"
    assert ok.headers["access-control-allow-credentials"] == "true"
    evil = await api.client.get("/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in evil.headers
