"""A small catalogue for subject tests: an admin, two professors, students and subjects."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import select

from gateway.analytics import aggregates
from gateway.db import utcnow
from gateway.sessions.models import ChatSession, Message, QuizAttempt
from gateway.users.models import Role, User
from tests.conftest import Api


def bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


@dataclass
class World:
    admin: str
    ana: str  # professor of INF001 and INF002
    juan: str  # professor of MAT002
    gabriel: str  # student enrolled in INF001
    maria: str  # student, not enrolled anywhere


async def make_world(api: Api) -> World:
    world = World(
        admin=await api.user("root_admin", Role.ADMIN),
        ana=await api.user("prof_ana", Role.PROFESSOR),
        juan=await api.user("prof_juan", Role.PROFESSOR),
        gabriel=await api.user("gabriel", Role.STUDENT),
        maria=await api.user("maria", Role.STUDENT),
    )
    for code, name, professor in [
        ("INF001", "Algorithms", "prof_ana"),
        ("MAT002", "Linear Algebra", "prof_juan"),
        ("INF002", "Databases", "prof_ana"),
    ]:
        r = await api.client.post(
            "/subjects",
            json={
                "subject_id": code,
                "name": name,
                "description": f"About {name}",
                "professor_id": professor,
            },
            headers=bearer(world.admin),
        )
        assert r.status_code == 201, r.text
    r = await api.client.post("/subjects/INF001/enroll", headers=bearer(world.gabriel))
    assert r.status_code == 200, r.text
    return world


async def user_id(api: Api, username: str) -> uuid.UUID:
    async with api.gateway.db.read() as db:
        uid = await db.scalar(select(User.id).where(User.username == username))
    assert uid is not None
    return uid


async def add_session(
    api: Api,
    username: str,
    subject: str,
    *,
    last_active: dt.datetime | None = None,
    messages: int = 0,
) -> str:
    sid = uuid.uuid4().hex
    uid = await user_id(api, username)
    async with api.gateway.db.transaction() as db:
        db.add(
            ChatSession(
                id=sid, user_id=uid, subject_id=subject, last_active=last_active or utcnow()
            )
        )
        await db.flush()
        await aggregates.chat_touched(db, sid)  # what the chat service does in its transaction
        for i in range(messages):
            db.add(Message(session_id=sid, role="user", content=f"question {i}"))
    return sid


async def add_attempt(
    api: Api,
    username: str,
    subject: str,
    percentage: float,
    *,
    created_at: dt.datetime | None = None,
    session_id: str | None = None,
) -> None:
    uid = await user_id(api, username)
    correct = round(percentage / 10)
    created_at = created_at or utcnow()
    async with api.gateway.db.transaction() as db:
        db.add(
            QuizAttempt(
                user_id=uid,
                subject_id=subject,
                session_id=session_id,
                correct=correct,
                total=10,
                percentage=percentage,
                created_at=created_at,
            )
        )
        await aggregates.quiz_recorded(db, uid, subject, percentage, created_at)
