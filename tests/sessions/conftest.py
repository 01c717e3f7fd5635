"""Chat fixtures: subjects and enrollments written through the ORM, tokens for each role,
and gateways configured differently (closed port, other limits) on the same database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import select

from gateway.app import Gateway, create_app
from gateway.config import Settings
from gateway.subjects.models import Enrollment, Subject
from gateway.users.models import Role, User
from tests.conftest import Api, make_settings


@dataclass
class World:
    api: Api
    ana: str  # student enrolled in INF001
    bob: str  # student enrolled in INF001
    carl: str  # student enrolled in nothing
    prof: str  # professor of INF001
    admin: str

    def h(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    async def chat(self, token: str, session_id: str, content: str, subject: str = "INF001") -> Any:
        return await self.api.client.post(
            "/chat",
            json={"id": session_id, "asignatura": subject, "content": content},
            headers=self.h(token),
        )

    async def session(self, token: str, session_id: str) -> httpx.Response:
        return await self.api.client.get(f"/sessions/{session_id}", headers=self.h(token))


async def seed(gateway: Gateway) -> None:
    async with gateway.db.transaction() as db:
        ids = {name: uid for name, uid in await db.execute(select(User.username, User.id))}
        db.add_all(
            [
                Subject(id="INF001", name="Algorithms", professor_id=ids["prof"]),
                Subject(id="MAT002", name="Linear Algebra", professor_id=None),
            ]
        )
        await db.flush()
        db.add_all(
            [
                Enrollment(student_id=ids["ana"], subject_id="INF001"),
                Enrollment(student_id=ids["bob"], subject_id="INF001"),
            ]
        )


@pytest.fixture
async def world(api: Api, stub: Any) -> World:
    tokens = {name: await api.user(name) for name in ("ana", "bob", "carl")}
    prof = await api.user("prof", Role.PROFESSOR)
    admin = await api.user("root", Role.ADMIN)
    await seed(api.gateway)
    return World(api=api, prof=prof, admin=admin, **tokens)


AltApp = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def alt_app(settings: Settings) -> AltApp:
    """Another gateway on the same database, with some settings changed."""

    @asynccontextmanager
    async def build(**overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
        values = {
            "chatbot_url": settings.chatbot_url,
            "chatbot_timeout_seconds": settings.chatbot_timeout_seconds,
            **overrides,
        }
        application = create_app(make_settings(settings.database_url, **values))
        async with LifespanManager(application):
            transport = httpx.ASGITransport(app=application)
            async with httpx.AsyncClient(transport=transport, base_url="http://alt") as client:
                yield client

    return build
