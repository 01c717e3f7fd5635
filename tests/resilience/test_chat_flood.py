"""A flood of slow chats does not starve other requests (issue 7).

200 chats wait on a tutor that holds each for 2 s; meanwhile a `me` query, which needs the
database, keeps answering fast: chats hold no connection while they wait, and the chat flow's
admission gate leaves part of the pool to every other endpoint. Runs on both databases."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from sqlalchemy import func, select

from gateway.app import create_app
from gateway.config import Settings
from gateway.sessions.models import Message
from tests.chat.conftest import seed
from tests.conftest import Api, make_settings
from tests.upstream_stub import Stub

CHATS = 200
HOLD_S = 2.0
ME = "{ me { username } }"


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


async def test_me_stays_fast_while_200_chats_wait(api: Api, settings: Settings, stub: Stub) -> None:
    token = await api.user("ana")
    await api.user("prof")
    await api.user("bob")
    await seed(api.gateway)  # ana is enrolled in INF001
    stub.mode, stub.slow_seconds = "slow", HOLD_S
    headers = {"Authorization": f"Bearer {token}"}
    app = create_app(
        make_settings(settings.database_url, chatbot_url=stub.url, chatbot_timeout_seconds=30)
    )
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:

            async def chat(i: int) -> httpx.Response:
                return await client.post(
                    "/chat",
                    json={"id": f"flood-{i}", "asignatura": "INF001", "content": f"q {i}"},
                    headers=headers,
                    timeout=60,
                )

            chats = [asyncio.create_task(chat(i)) for i in range(CHATS)]
            probes: list[tuple[float, int]] = []  # (latency, chats waiting on the tutor)
            while not all(task.done() for task in chats):
                waiting = len(stub.requests) - sum(task.done() for task in chats)
                started = time.perf_counter()
                r = await client.post("/graphql", json={"query": ME}, headers=headers)
                probes.append((time.perf_counter() - started, waiting))
                body: dict[str, Any] = r.json()
                me = (body.get("data") or {}).get("me") or {}
                assert r.status_code == 200 and me.get("username") == "ana", r.text
                await asyncio.sleep(0.01)
            replies = await asyncio.gather(*chats)

    assert [r.status_code for r in replies] == [200] * CHATS, {r.text for r in replies}
    async with api.gateway.db.read() as db:
        stored = await db.scalar(
            select(func.count(Message.id)).where(Message.session_id.like("flood-%"))
        )
    assert stored == 2 * CHATS
    # The probes must have run while (nearly) all chats were parked on the tutor.
    during = [latency for latency, waiting in probes if waiting >= CHATS * 0.9]
    assert len(during) >= 10, probes
    assert p99(during) < 1.0, sorted(during)[-5:]
