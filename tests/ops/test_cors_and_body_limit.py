"""CORS for the configured origins only (HTTP and GraphQL WebSockets), and the 413 limit."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect
from websockets.typing import Origin, Subprotocol

from gateway.config import Settings
from tests.conftest import PASSWORD, Api
from tests.ops.conftest import AppFactory, Server, server_env

GOOD = "http://localhost:5173"
EVIL = "https://evil.example"


@pytest.mark.parametrize("origin", ["http://localhost:5173", "http://localhost:3000"])
async def test_default_origins_get_credentials(api: Api, origin: str) -> None:
    r = await api.client.get("/health", headers={"Origin": origin})
    assert r.headers["access-control-allow-origin"] == origin
    assert r.headers["access-control-allow-credentials"] == "true"
    assert "x-request-id" in r.headers["access-control-expose-headers"].lower()
    pre = await api.client.options(
        "/graphql",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, x-custom",
        },
    )
    assert pre.status_code == 200
    assert pre.headers["access-control-allow-origin"] == origin
    assert "POST" in pre.headers["access-control-allow-methods"]
    assert "x-custom" in pre.headers["access-control-allow-headers"].lower()


async def test_other_origins_get_nothing(api: Api) -> None:
    r = await api.client.get("/health", headers={"Origin": EVIL})
    assert "access-control-allow-origin" not in r.headers
    pre = await api.client.options(
        "/graphql", headers={"Origin": EVIL, "Access-Control-Request-Method": "POST"}
    )
    assert pre.status_code == 400
    assert "access-control-allow-origin" not in pre.headers


async def test_origins_are_configurable(make_api: AppFactory) -> None:
    async with make_api(cors_origins=["https://app.example.edu"]) as api:
        r = await api.client.get("/health", headers={"Origin": "https://app.example.edu"})
        assert r.headers["access-control-allow-origin"] == "https://app.example.edu"
        r = await api.client.get("/health", headers={"Origin": GOOD})
        assert "access-control-allow-origin" not in r.headers


def test_graphql_websocket_checks_the_same_origins(
    serve: Callable[..., Server], settings: Settings
) -> None:
    server = serve(server_env(settings.database_url))
    url = f"ws://127.0.0.1:{server.port}/graphql"
    protocols = [Subprotocol("graphql-transport-ws")]
    httpx.post(
        f"{server.url}/register",
        json={"username": "wsuser", "email": "ws@example.com", "password": PASSWORD},
    )
    token = httpx.post(
        f"{server.url}/token", data={"username": "wsuser", "password": PASSWORD}
    ).json()["access_token"]
    with connect(url, origin=Origin(GOOD), subprotocols=protocols) as ws:
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
        ws.send(json.dumps(init))
        assert json.loads(ws.recv(timeout=5))["type"] == "connection_ack"
    with pytest.raises(InvalidStatus) as refused:
        connect(url, origin=Origin(EVIL), subprotocols=protocols)
    assert refused.value.response.status_code == 403


async def test_body_over_the_limit_is_413_before_the_app_reads_it(make_api: AppFactory) -> None:
    async with make_api(max_body_bytes=2048) as api:
        big = {"query": "{ me { username } }", "variables": {"pad": "x" * 4096}}
        r = await api.client.post("/graphql", json=big)
        assert r.status_code == 413
        assert r.json() == {"detail": "Request body too large (limit 2048 bytes)"}
        assert r.headers["x-request-id"]
        r = await api.client.post("/register", json={"username": "x" * 5000})
        assert r.status_code == 413

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: chunked upload
            for _ in range(10):
                yield b"a" * 512

        r = await api.client.post(
            "/graphql", content=chunks(), headers={"Content-Type": "application/json"}
        )
        assert r.status_code == 413

        async def small() -> AsyncIterator[bytes]:
            yield b'{"query": "{ __typename }"}'

        r = await api.client.post(
            "/graphql", content=small(), headers={"Content-Type": "application/json"}
        )
        assert r.status_code == 200 and r.json() == {"data": {"__typename": "Query"}}
        assert (
            await api.client.post("/graphql", json={"query": "{ __typename }"})
        ).status_code == 200


async def test_default_limit_is_one_mebibyte(api: Api) -> None:
    r = await api.client.post("/graphql", content=b"x" * (1024 * 1024 + 1))
    assert r.status_code == 413
    assert r.json()["detail"] == "Request body too large (limit 1048576 bytes)"
