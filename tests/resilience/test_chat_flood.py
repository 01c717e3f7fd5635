"""A flood of slow chats does not starve other requests (issue 7).

200 chats are parked at a tutor that holds every call until the test releases it; meanwhile
`me` queries, which need the database, keep being answered: chats hold no connection while
they wait, and the chat flow's admission gate leaves part of the pool to every other
endpoint. Were a parked chat holding a connection, the 20-connection pool would be gone and
`me` would get a 503 after the (shortened) pool timeout. How fast `me` stays under such a
flood is a benchmark's question (bench/chat), not this test's. Runs on both databases."""

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
from tests.conftest import Api, make_settings
from tests.sessions.conftest import seed
from tests.upstream_stub import Stub

CHATS = 200
PROBES = 20
ME = "{ me { username } }"


async def until(condition: Any, wait_s: float = 60.0) -> None:
    deadline = time.monotonic() + wait_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


async def test_me_is_served_while_200_chats_wait(api: Api, settings: Settings, stub: Stub) -> None:
    token = await api.user("ana")
    await api.user("prof")
    await api.user("bob")
    await seed(api.gateway)  # ana is enrolled in INF001
    stub.mode = "held"
    headers = {"Authorization": f"Bearer {token}"}
    app = create_app(
        make_settings(
            settings.database_url,
            chatbot_url=stub.url,
            chatbot_timeout_seconds=120,
            db_pool_timeout_seconds=2,
        )
    )
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:

            async def chat(i: int) -> httpx.Response:
                return await client.post(
                    "/chat",
                    json={"id": f"flood-{i}", "asignatura": "INF001", "content": f"q {i}"},
                    headers=headers,
                    timeout=180,
                )

            chats = [asyncio.create_task(chat(i)) for i in range(CHATS)]
            try:
                await until(lambda: len(stub.requests) == CHATS)  # every chat is parked
                for _ in range(PROBES):
                    r = await client.post("/graphql", json={"query": ME}, headers=headers)
                    body: dict[str, Any] = r.json()
                    me = (body.get("data") or {}).get("me") or {}
                    assert r.status_code == 200 and me.get("username") == "ana", r.text
                    assert not any(task.done() for task in chats)
            finally:
                stub.release.set()
            replies = await asyncio.gather(*chats)

    assert [r.status_code for r in replies] == [200] * CHATS, {r.text for r in replies}
    async with api.gateway.db.read() as db:
        stored = await db.scalar(
            select(func.count(Message.id)).where(Message.session_id.like("flood-%"))
        )
    assert stored == 2 * CHATS
