"""The auth service's rules, called directly against the database (no HTTP): who may
self-register as what, how login fails, and how a token becomes a caller."""

from __future__ import annotations

import pytest

from gateway.admin import service as admin
from gateway.auth import service
from gateway.errors import Forbidden, Unauthenticated
from gateway.runtime import Gateway
from gateway.users import repository
from gateway.users.models import Role
from gateway.users.schemas import RegisterInput
from tests.conftest import PASSWORD
from tests.services import account, enroll, subject


def _input(role: Role = Role.STUDENT) -> RegisterInput:
    return RegisterInput(username="ana", email="ana@example.com", password=PASSWORD, role=role)


async def test_self_registration_creates_students_only(gateway: Gateway) -> None:
    async with gateway.db.transaction() as db:
        for role in (Role.PROFESSOR, Role.ADMIN):
            with pytest.raises(Forbidden):
                await service.register(db, gateway.passwords, _input(role))
        made = await service.register(db, gateway.passwords, _input())
    assert (made.username, made.role, made.subjects) == ("ana", Role.STUDENT, [])


async def test_login_fails_alike_for_a_wrong_password_and_an_unknown_user(
    gateway: Gateway,
) -> None:
    await account(gateway, "ana")
    messages = []
    async with gateway.db.read() as db:
        for username, password in (("ana", "wrong-password"), ("nobody", PASSWORD)):
            with pytest.raises(Unauthenticated) as refused:
                await service.login(db, gateway.passwords, gateway.tokens, username, password)
            messages.append(str(refused.value))
        # Longer than any password we store: refused without hashing it.
        with pytest.raises(Unauthenticated):
            await service.login(db, gateway.passwords, gateway.tokens, "ana", PASSWORD * 20)
    assert messages[0] == messages[1]


async def test_login_token_carries_the_subjects_and_names_the_caller(gateway: Gateway) -> None:
    root = await account(gateway, "root", Role.ADMIN)
    ana = await account(gateway, "ana")
    await subject(gateway, root, "ALG")
    await enroll(gateway, ana, "ALG")
    async with gateway.db.read() as db:
        found = await service.login(db, gateway.passwords, gateway.tokens, " ANA ", PASSWORD)
        actor = await service.actor_from_token(db, gateway.tokens, found.access_token)
    assert found.user.subjects == ["ALG"]
    assert (actor.id, actor.role) == (ana.id, Role.STUDENT)
    assert actor.profile is not None and actor.profile.subjects == ["ALG"]


async def test_the_role_is_the_databases_not_the_tokens(gateway: Gateway) -> None:
    root = await account(gateway, "root", Role.ADMIN)
    await account(gateway, "ana")
    async with gateway.db.transaction() as db:
        token = (
            await service.login(db, gateway.passwords, gateway.tokens, "ana", PASSWORD)
        ).access_token
        await admin.set_role(db, root, "ana", Role.PROFESSOR)
    async with gateway.db.read() as db:
        actor = await service.actor_from_token(db, gateway.tokens, token)
    assert actor.role is Role.PROFESSOR


async def test_a_token_outlives_neither_its_account_nor_its_name(gateway: Gateway) -> None:
    ana = await account(gateway, "ana")
    # Signed correctly, but for the same id under another name.
    renamed = gateway.tokens.issue(user_id=ana.id, username="bea", role="STUDENT", subjects=[])
    async with gateway.db.read() as db:
        with pytest.raises(Unauthenticated):
            await service.actor_from_token(db, gateway.tokens, renamed)
        with pytest.raises(Unauthenticated):
            await service.actor_from_token(db, gateway.tokens, None)
        with pytest.raises(Unauthenticated):
            await service.actor_from_token(db, gateway.tokens, "not-a-jwt")
    token = gateway.tokens.issue(user_id=ana.id, username="ana", role="STUDENT", subjects=[])
    async with gateway.db.transaction() as db:
        await repository.remove(db, ana.id)
    async with gateway.db.read() as db:
        with pytest.raises(Unauthenticated):
            await service.actor_from_token(db, gateway.tokens, token)
