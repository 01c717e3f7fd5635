"""Helpers for service-level tests: accounts and subjects made through the services themselves,
against the test database, with no HTTP in between."""

from __future__ import annotations

from gateway.admin.service import create_user
from gateway.auth.actor import Actor
from gateway.runtime import Gateway
from gateway.subjects import service as subjects
from gateway.subjects.schemas import SubjectCreate
from gateway.users.models import Role
from gateway.users.schemas import RegisterInput
from tests.conftest import PASSWORD


async def account(gw: Gateway, username: str, role: Role = Role.STUDENT) -> Actor:
    """A new account, as the caller the services would see (its role read from the row)."""
    data = RegisterInput(
        username=username,
        email=f"{username}@example.com",
        password=PASSWORD,
        full_name=username.title(),
        role=role,
    )
    async with gw.db.transaction() as db:
        view = await create_user(db, gw.passwords, data)
    return Actor(id=view.id, username=view.username, role=view.role)


async def subject(gw: Gateway, admin: Actor, code: str, professor: Actor | None = None) -> None:
    data = SubjectCreate.model_validate(
        {
            "subject_id": code,
            "name": f"Subject {code}",
            "professor_id": professor.username if professor else None,
        }
    )
    async with gw.db.transaction() as db:
        await subjects.create_subject(db, admin, data)


async def enroll(gw: Gateway, student: Actor, code: str) -> None:
    async with gw.db.transaction() as db:
        await subjects.enroll(db, student, code)
