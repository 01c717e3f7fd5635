"""An open WebSocket is held to the same rules as a request: every operation re-reads its
caller (role, existence, token expiry), a socket whose account disappears or whose token
expires is closed, operations and connection_init are rate-limited, and each user holds a
bounded number of sockets, counted across processes when Redis is configured. Both
subprotocols: graphql-transport-ws and the older graphql-ws."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from sqlalchemy import select
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from gateway.app import create_app
from gateway.config import Settings
from gateway.users.models import Role, User
from tests.conftest import make_settings
from tests.sessions.conftest import World
from tests.sessions.test_subscriptions import chat, recv, short_token, until
from tests.upstream_stub import ThreadServer

TRANSPORT = "graphql-transport-ws"
LEGACY = "graphql-ws"
USERS = "{ users(first: 5) { nodes { username } } }"
SUBSCRIBE = "subscription($s: ID!) { messageAdded(sessionId: $s) { content } }"
REDIS_URL = os.environ.get("GATEWAY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


class Server:
    def __init__(self, settings: Settings, **overrides: Any) -> None:
        values = {"chatbot_url": settings.chatbot_url, **overrides}
        self.app = create_app(make_settings(settings.database_url, **values))
        self.thread = ThreadServer(self.app, lifespan="on").start()
        self.ws_url = self.thread.url.replace("http://", "ws://") + "/graphql"
        self.url = self.thread.url

    def stop(self) -> None:
        self.thread.stop()


@pytest.fixture(scope="module")
def server(settings: Settings) -> Iterator[Server]:
    """Sockets re-check their caller every 0.2 s here (the default is 30 s)."""
    s = Server(settings, ws_recheck_seconds=0.2)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def slow_recheck(settings: Settings) -> Iterator[Server]:
    """The default re-check period: only the per-operation re-read can catch a change."""
    s = Server(settings)
    yield s
    s.stop()


async def open_socket(
    server: Server, token: str, protocol: str = TRANSPORT
) -> tuple[ClientConnection, dict[str, Any]]:
    ws = await connect(server.ws_url, subprotocols=[protocol])  # type: ignore[list-item]
    await ws.send(json.dumps({"type": "connection_init", "payload": {"token": token}}))
    first = await recv(ws)
    while first["type"] == "ka":
        first = await recv(ws)
    return ws, first


async def operate(
    ws: ClientConnection, query: str, op: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    payload = {"query": query, "variables": variables or {}}
    await ws.send(json.dumps({"id": op, "type": "subscribe", "payload": payload}))
    while True:
        message = await recv(ws)
        if message.get("id") == op and message["type"] in ("next", "error"):
            return message


def codes(message: dict[str, Any]) -> list[str]:
    payload = message["payload"]
    errors = payload if message["type"] == "error" else payload.get("errors") or []
    return [e["extensions"]["code"] for e in errors]


async def closed_with(ws: ClientConnection, wait_s: float = 5.0) -> int:
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await recv(ws, wait_s)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


async def uid(world: World, username: str) -> str:
    async with world.api.gateway.db.read() as db:
        return str(await db.scalar(select(User.id).where(User.username == username)))


async def test_a_demoted_admin_loses_admin_operations_on_the_open_socket(
    world: World, slow_recheck: Server
) -> None:
    other_admin = await world.api.user("root2", role=Role.ADMIN)
    ws, ack = await open_socket(slow_recheck, world.admin)
    try:
        assert ack["type"] == "connection_ack"
        assert codes(await operate(ws, USERS, "1")) == []
        response = await world.api.client.post(
            "/admin/users/root/role", json={"role": "student"}, headers=world.h(other_admin)
        )
        assert response.status_code == 200, response.text
        refused = await operate(ws, USERS, "2")
        assert codes(refused) == ["FORBIDDEN"]
        mutation = (
            'mutation { setUserRole(input: {userId: "root", role: ADMIN}) { user { role } } }'
        )
        assert codes(await operate(ws, mutation, "3")) == ["FORBIDDEN"]
    finally:
        await ws.close()


async def test_a_deleted_accounts_operations_are_refused_on_the_open_socket(
    world: World, slow_recheck: Server
) -> None:
    other_admin = await world.api.user("root2", role=Role.ADMIN)
    ws, ack = await open_socket(slow_recheck, world.admin)
    try:
        assert ack["type"] == "connection_ack"
        response = await world.api.client.delete("/admin/users/root", headers=world.h(other_admin))
        assert response.status_code in (200, 204), response.text
        assert codes(await operate(ws, USERS, "1")) == ["UNAUTHENTICATED"]
    finally:
        await ws.close()


async def test_an_expired_token_closes_the_socket_without_a_subscription(
    world: World, slow_recheck: Server
) -> None:
    ws, ack = await open_socket(slow_recheck, short_token(await uid(world, "ana"), "ana", 2))
    assert ack["type"] == "connection_ack"
    assert await closed_with(ws, wait_s=8) == 4401


async def test_a_deleted_accounts_socket_is_closed(world: World, server: Server) -> None:
    ws, ack = await open_socket(server, world.carl)
    assert ack["type"] == "connection_ack"
    response = await world.api.client.delete("/admin/users/carl", headers=world.h(world.admin))
    assert response.status_code in (200, 204), response.text
    assert await closed_with(ws) == 4401


async def test_a_deleted_accounts_subscription_ends(world: World, server: Server) -> None:
    assert (await chat(server.url, world.ana, "s-del", "hola")).status_code == 200
    ws, _ = await open_socket(server, world.ana)
    payload = {"query": SUBSCRIBE, "variables": {"s": "s-del"}}
    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
    response = await world.api.client.delete("/admin/users/ana", headers=world.h(world.admin))
    assert response.status_code in (200, 204), response.text
    assert await closed_with(ws) == 4401


@pytest.mark.parametrize("protocol", [TRANSPORT, LEGACY])
async def test_a_refused_subscription_is_one_error_message(
    world: World, server: Server, protocol: str
) -> None:
    assert (await chat(server.url, world.ana, "theirs-2", "privado")).status_code == 200
    ws, ack = await open_socket(server, world.bob, protocol)
    try:
        assert ack["type"] == "connection_ack"
        start = "subscribe" if protocol == TRANSPORT else "start"
        for op, session_id, code in (("1", "theirs-2", "FORBIDDEN"), ("2", "nobody", "NOT_FOUND")):
            payload = {"query": SUBSCRIBE, "variables": {"s": session_id}}
            await ws.send(json.dumps({"id": op, "type": start, "payload": payload}))
            message = await recv(ws)
            while message["type"] == "ka":
                message = await recv(ws)
            assert message["type"] == "error" and message["id"] == op, message
            errors = message["payload"]
            errors = errors if isinstance(errors, list) else [errors]
            assert [e["extensions"]["code"] for e in errors] == [code]
    finally:
        await ws.close()


async def test_the_older_graphql_ws_protocol_delivers_messages(
    world: World, server: Server
) -> None:
    assert (await chat(server.url, world.ana, "legacy-1", "uno")).status_code == 200
    ws, ack = await open_socket(server, world.ana, LEGACY)
    try:
        assert ack["type"] == "connection_ack"
        payload = {"query": SUBSCRIBE, "variables": {"s": "legacy-1"}}
        await ws.send(json.dumps({"id": "1", "type": "start", "payload": payload}))
        broker = server.app.state.gateway.broker

        async def ready() -> bool:
            return bool(broker.subscribers("session:legacy-1") == 1)

        await until(ready)
        assert (await chat(server.url, world.ana, "legacy-1", "dos")).status_code == 200
        message = await recv(ws)
        while message["type"] == "ka":
            message = await recv(ws)
        assert message["type"] == "data"
        assert message["payload"]["data"]["messageAdded"] == {"content": "dos"}
    finally:
        await ws.close()


async def test_the_older_protocol_refuses_start_before_init(server: Server) -> None:
    ws = await connect(server.ws_url, subprotocols=[LEGACY])  # type: ignore[list-item]
    payload = {"query": SUBSCRIBE, "variables": {"s": "x"}}
    await ws.send(json.dumps({"id": "1", "type": "start", "payload": payload}))
    assert await closed_with(ws) == 4401


# --- limits ----------------------------------------------------------------------------------


@pytest.fixture
def limited(settings: Settings) -> Iterator[Server]:
    s = Server(settings, ws_max_sockets_per_user=2, rate_limit_default="6/minute")
    yield s
    s.stop()


async def test_operations_on_a_socket_are_rate_limited(world: World, limited: Server) -> None:
    ws, ack = await open_socket(limited, world.bob)  # connection_init counts: 1
    try:
        assert ack["type"] == "connection_ack"
        for n in range(5):  # 2..6
            payload = {"query": SUBSCRIBE, "variables": {"s": f"none-{n}"}}
            await ws.send(json.dumps({"id": str(n), "type": "subscribe", "payload": payload}))
            assert codes(await recv(ws)) == ["NOT_FOUND"]
        message = await operate(ws, SUBSCRIBE, "over", {"s": "none-x"})
        assert message["type"] == "error" and codes(message) == ["RATE_LIMITED"]
    finally:
        await ws.close()


async def test_connection_init_is_rate_limited(world: World, limited: Server) -> None:
    for _ in range(6):
        ws, ack = await open_socket(limited, world.carl)
        assert ack["type"] == "connection_ack"
        await ws.close()
    refused = await connect(limited.ws_url, subprotocols=[TRANSPORT])  # type: ignore[list-item]
    await refused.send(json.dumps({"type": "connection_init", "payload": {"token": world.carl}}))
    assert await closed_with(refused) == 4403


async def test_each_user_holds_a_bounded_number_of_sockets(world: World, limited: Server) -> None:
    first, _ = await open_socket(limited, world.ana)
    second, _ = await open_socket(limited, world.ana)
    third = await connect(limited.ws_url, subprotocols=[TRANSPORT])  # type: ignore[list-item]
    await third.send(json.dumps({"type": "connection_init", "payload": {"token": world.ana}}))
    assert await closed_with(third) == 4403
    others, ack = await open_socket(limited, world.bob)  # another user is not affected
    assert ack["type"] == "connection_ack"
    await first.close()
    await others.close()
    leases = limited.app.state.gateway.socket_leases
    user = await uid(world, "ana")

    async def released() -> bool:  # the server has seen the close
        if not await leases.acquire(user, "probe", 2, 60):
            return False
        await leases.release(user, "probe")
        return True

    await until(released)
    again, ack = await open_socket(limited, world.ana)
    assert ack["type"] == "connection_ack"
    await again.close()
    await second.close()


@pytest.fixture
async def two_with_redis(settings: Settings) -> AsyncIterator[tuple[Server, Server]]:
    prefix = uuid.uuid4().hex
    servers = tuple(
        Server(
            settings,
            ws_max_sockets_per_user=2,
            redis_url=REDIS_URL,
            rate_limit_key_prefix=prefix,
        )
        for _ in range(2)
    )
    yield servers[0], servers[1]
    for s in servers:
        s.stop()


async def test_the_socket_cap_is_shared_across_processes_through_redis(
    world: World, two_with_redis: tuple[Server, Server]
) -> None:
    a, b = two_with_redis
    first, ack1 = await open_socket(a, world.ana)
    second, ack2 = await open_socket(b, world.ana)
    assert ack1["type"] == ack2["type"] == "connection_ack"
    third = await connect(a.ws_url, subprotocols=[TRANSPORT])  # type: ignore[list-item]
    await third.send(json.dumps({"type": "connection_init", "payload": {"token": world.ana}}))
    assert await closed_with(third) == 4403
    await first.close()
    await second.close()


@pytest.mark.parametrize("method", ["POST", "GET"])
async def test_a_subscription_over_http_is_a_400(world: World, method: str) -> None:
    query = 'subscription { messageAdded(sessionId: "s-1") { content } }'
    client = world.api.client
    headers = {**world.h(world.ana), "Accept": "application/json"}
    if method == "POST":
        response = await client.post("/graphql", json={"query": query}, headers=headers)
    else:
        response = await client.get("/graphql", params={"query": query}, headers=headers)
    assert response.status_code == 400, response.text
    assert "subscriptions are not allowed" in response.text
