"""messageAdded over graphql-transport-ws: authentication at connection_init, ownership,
expiry, and fan-out in one process (memory) and across two processes (Redis)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import OctKey
from redis import asyncio as aioredis
from sqlalchemy import select
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from gateway.adapters.broker import PREFIX
from gateway.app import Gateway, create_app
from gateway.config import Settings
from gateway.users.models import User
from tests.conftest import TEST_SECRET, make_settings
from tests.sessions.conftest import World
from tests.upstream_stub import Stub, ThreadServer, free_port

PROTOCOL = "graphql-transport-ws"
SUBSCRIBE = (
    "subscription($s: ID!) { messageAdded(sessionId: $s) { sessionId role content status } }"
)
REDIS_URL = os.environ.get("GATEWAY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


class Live:
    def __init__(self, url: str, gateway: Gateway | None = None) -> None:
        self.url = url
        self.ws_url = url.replace("http://", "ws://") + "/graphql"
        self.gateway = gateway


@pytest.fixture(scope="module")
def live(settings: Settings) -> Iterator[Live]:
    """A second gateway on a real socket (in-memory broker), on the tests' database."""
    app = create_app(make_settings(settings.database_url, chatbot_url=settings.chatbot_url))
    server = ThreadServer(app, lifespan="on").start()
    yield Live(server.url, app.state.gateway)
    server.stop()


async def open_ws(live: Live, params: dict[str, Any]) -> ClientConnection:
    ws = await connect(live.ws_url, subprotocols=[PROTOCOL])  # type: ignore[list-item]
    await ws.send(json.dumps({"type": "connection_init", "payload": params}))
    return ws


async def subscribe(ws: ClientConnection, session_id: str, op: str = "1") -> None:
    await ws.send(
        json.dumps(
            {
                "id": op,
                "type": "subscribe",
                "payload": {"query": SUBSCRIBE, "variables": {"s": session_id}},
            }
        )
    )


async def recv(ws: ClientConnection, wait_s: float = 5.0) -> dict[str, Any]:
    frame = await asyncio.wait_for(ws.recv(), wait_s)
    # Standard clients (graphql-ws, Apollo, urql, gql) reject binary frames outright.
    assert isinstance(frame, str), f"binary frame: {frame!r}"
    message: dict[str, Any] = json.loads(frame)
    return message


async def until(predicate: Any, wait_s: float = 5.0) -> None:
    deadline = time.monotonic() + wait_s
    while not await predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


async def chat(url: str, token: str, session_id: str, content: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        return await client.post(
            "/chat",
            json={"id": session_id, "asignatura": "INF001", "content": content},
            headers={"Authorization": f"Bearer {token}"},
        )


async def test_subscriber_sees_messages_sent_by_another_client(world: World, live: Live) -> None:
    assert (await chat(live.url, world.ana, "live-1", "primera")).status_code == 200
    ws = await open_ws(live, {"Authorization": f"Bearer {world.ana}"})
    try:
        assert (await recv(ws))["type"] == "connection_ack"
        await subscribe(ws, "live-1")
        assert live.gateway is not None
        broker = live.gateway.broker

        async def ready() -> bool:
            return broker.subscribers("session:live-1") == 1

        await until(ready)
        assert (await chat(live.url, world.ana, "live-1", "segunda")).status_code == 200
        first, second = await recv(ws), await recv(ws)
        assert first["type"] == "next" and first["id"] == "1"
        assert first["payload"]["data"]["messageAdded"] == {
            "sessionId": "live-1",
            "role": "USER",
            "content": "segunda",
            "status": "SENT",
        }
        reply = second["payload"]["data"]["messageAdded"]
        assert reply["role"] == "ASSISTANT" and "segunda" in reply["content"]
        await ws.send(json.dumps({"id": "1", "type": "complete"}))

        async def gone() -> bool:
            return broker.subscribers("session:live-1") == 0

        await until(gone)
    finally:
        await ws.close()


async def test_token_may_come_as_token_key(world: World, live: Live) -> None:
    ws = await open_ws(live, {"token": world.ana})
    try:
        assert (await recv(ws))["type"] == "connection_ack"
    finally:
        await ws.close()


@pytest.mark.parametrize("params", [{}, {"Authorization": "Bearer nope"}, {"token": "x.y.z"}])
async def test_bad_or_missing_token_is_refused(live: Live, params: dict[str, Any]) -> None:
    ws = await open_ws(live, params)
    with pytest.raises(ConnectionClosed) as closed:
        await recv(ws)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403


async def test_subscribe_before_init_is_refused(live: Live) -> None:
    ws = await connect(live.ws_url, subprotocols=[PROTOCOL])  # type: ignore[list-item]
    await subscribe(ws, "whatever")
    with pytest.raises(ConnectionClosed) as closed:
        await recv(ws)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


@pytest.mark.parametrize(
    ("session_id", "expected"), [("theirs", "FORBIDDEN"), ("nobody", "NOT_FOUND")]
)
async def test_subscribing_to_someone_elses_session_is_refused(
    world: World, live: Live, session_id: str, expected: str
) -> None:
    assert (await chat(live.url, world.ana, "theirs", "privado")).status_code == 200
    ws = await open_ws(live, {"Authorization": f"Bearer {world.bob}"})
    try:
        assert (await recv(ws))["type"] == "connection_ack"
        await subscribe(ws, session_id)
        message = await recv(ws)
        # One `error` message (graphql-transport-ws), not `next` with errors then `complete`.
        assert message["type"] == "error" and message["id"] == "1", message
        assert [e["extensions"]["code"] for e in message["payload"]] == [expected]
    finally:
        await ws.close()


def short_token(user_id: str, username: str, seconds: int) -> str:
    now = int(time.time())
    claims = {
        "sub": username,
        "uid": user_id,
        "role": "STUDENT",
        "subjects": [],
        "iat": now,
        "nbf": now,
        "exp": now + seconds,
    }
    return jwt.encode({"alg": "HS256"}, claims, OctKey.import_key(TEST_SECRET.encode()))


async def test_subscription_is_closed_when_the_token_expires(world: World, live: Live) -> None:
    assert (await chat(live.url, world.ana, "expiring", "hola")).status_code == 200
    async with world.api.gateway.db.read() as db:
        uid = await db.scalar(select(User.id).where(User.username == "ana"))
    ws = await open_ws(live, {"token": short_token(str(uid), "ana", 2)})
    started = time.monotonic()
    assert (await recv(ws))["type"] == "connection_ack"
    await subscribe(ws, "expiring")
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await recv(ws, wait_s=6)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    assert 0.5 < time.monotonic() - started < 5


# --- two gateway processes sharing the database and Redis ----------------------------------


def _spawn(settings: Settings, chatbot_url: str, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "GATEWAY_ENV": "test",
        "GATEWAY_DATABASE_URL": settings.database_url,
        "GATEWAY_JWT_SECRET": TEST_SECRET,
        "GATEWAY_AUTO_MIGRATE": "false",
        "CHATBOT_URL": chatbot_url,
        "REDIS_URL": REDIS_URL,
        "GATEWAY_LOG_LEVEL": "WARNING",
    }
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "gateway.app:create_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)


@pytest.fixture
async def two_processes(settings: Settings, stub: Stub) -> AsyncIterator[tuple[str, str]]:
    ports = free_port(), free_port()
    procs = [_spawn(settings, stub.url, port) for port in ports]
    urls = tuple(f"http://127.0.0.1:{port}" for port in ports)
    try:
        async with httpx.AsyncClient(timeout=1) as client:
            for url in urls:

                async def healthy(url: str = url) -> bool:
                    try:
                        return (await client.get(url + "/health")).status_code == 200
                    except httpx.TransportError:
                        return False

                await until(healthy, wait_s=30)
        yield urls[0], urls[1]
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=15)


async def test_message_sent_through_one_process_reaches_a_subscriber_on_the_other(
    world: World, two_processes: tuple[str, str]
) -> None:
    sender, receiver = two_processes
    assert (await chat(sender, world.ana, "scale-out", "hola")).status_code == 200
    ws = await open_ws(Live(receiver), {"Authorization": f"Bearer {world.ana}"})
    redis = aioredis.from_url(REDIS_URL)
    try:
        assert (await recv(ws))["type"] == "connection_ack"
        await subscribe(ws, "scale-out")

        async def subscribed() -> bool:
            counts = dict(await redis.pubsub_numsub(PREFIX + "session:scale-out"))
            return int(counts.get((PREFIX + "session:scale-out").encode(), 0)) >= 1

        await until(subscribed)
        assert (await chat(sender, world.ana, "scale-out", "¿me oyes?")).status_code == 200
        first, second = await recv(ws), await recv(ws)
        assert first["payload"]["data"]["messageAdded"]["content"] == "¿me oyes?"
        assert second["payload"]["data"]["messageAdded"]["role"] == "ASSISTANT"
    finally:
        await ws.close()
        await redis.aclose()
