"""Redis outage during chat (issue 13, item 7): the test starts its own redis-server, then kills
it or freezes it (SIGSTOP). Chat must go on on both faces: the message is answered, this
process's subscribers still hear it, and the failure is counted in a metric."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from prometheus_client import REGISTRY
from redis import Redis as SyncRedis
from redis.exceptions import ConnectionError as RedisConnectionError

from gateway.app import Gateway, create_app
from gateway.config import Settings
from gateway.sessions.chat import channel
from tests.conftest import make_settings
from tests.sessions.conftest import World
from tests.upstream_stub import free_port

SEND = """mutation($s: ID!) {
  sendMessage(input: {sessionId: $s, subjectId: "INF001", content: "hola"}) {
    userMessage { status } assistantMessage { content }
  }
}"""
# A guard against a hang, not a timing assertion: the old code waited 5 s per try, 4 tries.
HANG_GUARD_SECONDS = 15


@dataclass
class Redis:
    process: subprocess.Popen[bytes]
    url: str

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)


@pytest.fixture
def redis_server() -> Iterator[Redis]:
    binary = shutil.which("redis-server")
    assert binary, "redis-server is needed for this test"
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="gw-redis-")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = Redis(process, f"redis://127.0.0.1:{port}/0")
    client = SyncRedis.from_url(server.url)
    try:
        deadline = time.monotonic() + 10
        while True:  # poll until it listens
            try:
                client.ping()
                break
            except RedisConnectionError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)
        yield server
    finally:
        client.close()
        if process.poll() is None:
            os.kill(process.pid, signal.SIGCONT)
            server.kill()
        shutil.rmtree(workdir, ignore_errors=True)


@dataclass
class Served:
    client: httpx.AsyncClient
    gateway: Gateway


@pytest.fixture
async def served(settings: Settings, redis_server: Redis) -> AsyncIterator[Served]:
    app: Any = create_app(
        make_settings(
            settings.database_url,
            chatbot_url=settings.chatbot_url,
            redis_url=redis_server.url,
            rate_limit_enabled=False,  # its Redis storage is another subject (it fails open)
        )
    )
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://redis") as client:
            yield Served(client, app.state.gateway)


def failures() -> float:
    value = REGISTRY.get_sample_value("gateway_broker_failures_total", {"operation": "publish"})
    return value or 0.0


async def chat_on_both_faces(world: World, served: Served, session_id: str) -> None:
    headers = world.h(world.ana)
    body = {"id": session_id, "asignatura": "INF001", "content": "hola"}
    async with asyncio.timeout(HANG_GUARD_SECONDS):
        rest = await served.client.post("/chat", json=body, headers=headers)
        gql = await served.client.post(
            "/graphql",
            json={"query": SEND, "variables": {"s": session_id + "-gql"}},
            headers=headers,
        )
    assert rest.status_code == 200, rest.text
    assert "hola" in rest.json()["response"]
    data = gql.json()
    assert "errors" not in data, data
    assert data["data"]["sendMessage"]["userMessage"]["status"] == "ANSWERED"
    for sid in (session_id, session_id + "-gql"):
        stored = (await world.session(world.ana, sid)).json()
        assert [m["status"] for m in stored["messages"]] == ["answered", "ok"]


async def test_chat_goes_on_when_redis_dies(
    world: World, served: Served, redis_server: Redis
) -> None:
    await chat_on_both_faces(world, served, "before")
    async with served.gateway.broker.subscribe(channel("during")) as queue:
        redis_server.kill()
        before = failures()
        await chat_on_both_faces(world, served, "during")
        heard = [queue.get_nowait() for _ in range(queue.qsize())]
    # this process's subscriber still heard both messages of its session
    assert [e["message"]["role"] for e in heard] == ["user", "assistant"]
    assert failures() >= before + 2


async def test_chat_goes_on_when_redis_hangs(
    world: World, served: Served, redis_server: Redis
) -> None:
    await chat_on_both_faces(world, served, "warm")
    os.kill(redis_server.process.pid, signal.SIGSTOP)
    before = failures()
    await chat_on_both_faces(world, served, "frozen")
    assert failures() >= before + 2


async def test_a_subscription_opened_while_redis_is_down_hears_this_process(
    world: World, served: Served, redis_server: Redis
) -> None:
    redis_server.kill()
    broker = served.gateway.broker
    async with asyncio.timeout(HANG_GUARD_SECONDS):
        async with broker.subscribe(channel("down")) as queue:
            await chat_on_both_faces(world, served, "down")
            heard = [queue.get_nowait() for _ in range(queue.qsize())]
    assert [e["message"]["role"] for e in heard] == ["user", "assistant"]
    assert REGISTRY.get_sample_value("gateway_broker_failures_total", {"operation": "subscribe"})
