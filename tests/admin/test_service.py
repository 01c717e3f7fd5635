"""The admin service's rules, called directly against the database (no HTTP): only admins
administer, roles are validated, the last admin stays."""

from __future__ import annotations

import pytest

from gateway.admin import service
from gateway.errors import Forbidden, InvalidInput, NotFound, Unauthenticated
from gateway.runtime import Gateway
from gateway.users import service as users
from gateway.users.models import Role
from tests.services import account, subject


async def test_only_admins_administer(gateway: Gateway) -> None:
    await account(gateway, "root", Role.ADMIN)
    prof = await account(gateway, "prof", Role.PROFESSOR)
    ana = await account(gateway, "ana")
    async with gateway.db.transaction() as db:
        for caller in (prof, ana):
            with pytest.raises(Forbidden):
                await service.list_users(db, caller, role=None, limit=10)
            with pytest.raises(Forbidden):
                await service.set_role(db, caller, caller.username, Role.ADMIN)
            with pytest.raises(Forbidden):
                await service.delete_user(db, caller, "root")
        with pytest.raises(Unauthenticated):
            await service.list_users(db, None, role=None, limit=10)


async def test_listing_filters_by_role_and_pages_by_keyset(gateway: Gateway) -> None:
    root = await account(gateway, "root", Role.ADMIN)
    prof = await account(gateway, "prof", Role.PROFESSOR)
    for name in ("ana", "bea", "cid"):
        await account(gateway, name)
    await subject(gateway, root, "ALG", prof)
    async with gateway.db.read() as db:
        everyone = await service.list_users(db, root, role=None, limit=10)
        students = await service.list_users(db, root, role="student", limit=2)
        last = students[-1]
        rest = await service.list_users(
            db, root, role=Role.STUDENT, limit=10, after=(last.created_at, last.username)
        )
        with pytest.raises(InvalidInput, match="Invalid role"):
            await service.list_users(db, root, role="WIZARD", limit=10)
    assert [u.username for u in everyone] == ["root", "prof", "ana", "bea", "cid"]
    assert [u.subjects for u in everyone][:2] == [[], ["ALG"]]
    assert [u.username for u in students] == ["ana", "bea"]
    assert [u.username for u in rest] == ["cid"]


async def test_role_changes_by_name_or_id(gateway: Gateway) -> None:
    root = await account(gateway, "root", Role.ADMIN)
    ana = await account(gateway, "ana")
    async with gateway.db.transaction() as db:
        promoted = await service.set_role(db, root, " ANA ", "professor")
        demoted = await service.set_role(db, root, ana.id, Role.STUDENT)
        with pytest.raises(InvalidInput, match="Invalid role"):
            await service.set_role(db, root, "ana", "WIZARD")
        with pytest.raises(NotFound):
            await service.set_role(db, root, "nobody", Role.STUDENT)
    assert (promoted.role, demoted.role) == (Role.PROFESSOR, Role.STUDENT)


async def test_the_last_admin_can_be_neither_demoted_nor_deleted(gateway: Gateway) -> None:
    root = await account(gateway, "root", Role.ADMIN)
    async with gateway.db.transaction() as db:
        with pytest.raises(InvalidInput, match="last admin"):
            await service.set_role(db, root, "root", Role.STUDENT)
        with pytest.raises(InvalidInput, match="last admin"):
            await service.delete_user(db, root, root.id)
    second = await account(gateway, "second", Role.ADMIN)
    async with gateway.db.transaction() as db:
        demoted = await service.set_role(db, second, "root", Role.STUDENT)
    assert demoted.role is Role.STUDENT
    async with gateway.db.transaction() as db:
        with pytest.raises(InvalidInput, match="last admin"):
            await service.delete_user(db, second, "second")


async def test_deleting_an_account_removes_it(gateway: Gateway) -> None:
    root = await account(gateway, "root", Role.ADMIN)
    ana = await account(gateway, "ana")
    async with gateway.db.transaction() as db:
        assert await service.delete_user(db, root, "ana") == ana.id
    async with gateway.db.transaction() as db:
        with pytest.raises(NotFound):
            await service.delete_user(db, root, "ana")
        assert await users.by_username(db, "ana") is None
