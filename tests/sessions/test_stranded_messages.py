"""Messages stranded by a crash (issue 13, item 10): a process killed (or a shutdown past its
grace) while the tutor was answering leaves the user's message "sent" with nobody waiting for
it. The next gateway to start marks such messages failed, with a reason on the session, and a
running gateway does the same periodically (a database outage strands messages without any
restart)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from sqlalchemy import insert

from gateway.app import create_app
from gateway.config import Settings
from gateway.db import utcnow
from gateway.sessions.chat import STRANDED
from gateway.sessions.models import Message
from tests.conftest import make_settings
from tests.sessions.conftest import World
from tests.subjects.world import add_session


async def add_message(
    world: World, session_id: str, role: str, status: str, age: dt.timedelta
) -> None:
    async with world.api.gateway.db.transaction() as db:
        await db.execute(
            insert(Message).values(
                session_id=session_id,
                role=role,
                content=f"{role} {status}",
                status=status,
                created_at=utcnow() - age,
            )
        )


async def test_the_next_start_fails_messages_stranded_by_a_crash(
    world: World, settings: Settings
) -> None:
    hour, now = dt.timedelta(hours=1), dt.timedelta(0)
    crashed = await add_session(world.api, "ana", "INF001")
    await add_message(world, crashed, "user", "sent", hour)
    recovered = await add_session(world.api, "ana", "INF001")  # a later chat succeeded
    await add_message(world, recovered, "user", "sent", hour)
    await add_message(world, recovered, "user", "answered", hour - dt.timedelta(minutes=1))
    await add_message(world, recovered, "assistant", "ok", hour - dt.timedelta(minutes=1))
    in_flight = await add_session(world.api, "bob", "INF001")  # another process is on it
    await add_message(world, in_flight, "user", "sent", now)

    app: Any = create_app(make_settings(settings.database_url, chatbot_url=settings.chatbot_url))
    async with LifespanManager(app):  # a gateway starting on the same database
        await app.state.gateway.stranded_swept.wait()  # the start's pass, in the background
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://restarted") as client:

            async def read(token: str, session_id: str) -> Any:
                r = await client.get(f"/sessions/{session_id}", headers=world.h(token))
                assert r.status_code == 200, r.text
                return r.json()

            crashed_view = await read(world.ana, crashed)
            recovered_view = await read(world.ana, recovered)
            in_flight_view = await read(world.bob, in_flight)

    assert [m["status"] for m in crashed_view["messages"]] == ["failed"]
    assert crashed_view["last_error"] == STRANDED
    statuses = [m["status"] for m in recovered_view["messages"]]
    assert statuses == ["failed", "answered", "ok"]
    assert recovered_view["last_error"] is None  # its latest chat went through
    assert [m["status"] for m in in_flight_view["messages"]] == ["sent"]
    assert in_flight_view["last_error"] is None


async def test_a_running_gateway_sweeps_periodically(world: World, settings: Settings) -> None:
    app: Any = create_app(
        make_settings(
            settings.database_url, chatbot_url=settings.chatbot_url, stranded_sweep_seconds=0.05
        )
    )
    async with LifespanManager(app):
        swept = app.state.gateway.stranded_swept
        await swept.wait()
        # stranded after the start, e.g. by a database outage during the reply's transaction
        session_id = await add_session(world.api, "ana", "INF001")
        await add_message(world, session_id, "user", "sent", dt.timedelta(hours=1))
        swept.clear()
        await swept.wait()
        swept.clear()
        await swept.wait()  # a whole pass that began after the message was stored
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://running") as client:
            r = await client.get(f"/sessions/{session_id}", headers=world.h(world.ana))
    assert r.json()["last_error"] == STRANDED
    assert [m["status"] for m in r.json()["messages"]] == ["failed"]
