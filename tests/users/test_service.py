"""The users service's rules, called directly against the database (no HTTP): who may read
whom, what a user may change, registration conflicts, and the one "subjects of a user"."""

from __future__ import annotations

import uuid

import pytest

from gateway.auth.actor import Actor
from gateway.errors import Conflict, Forbidden, NotFound, Unauthenticated
from gateway.runtime import Gateway
from gateway.subjects import repository as subject_rows
from gateway.users import repository, service
from gateway.users.models import Role
from gateway.users.schemas import PreferencesPatch, ProfileUpdate, RegisterInput
from tests.conftest import PASSWORD
from tests.services import account, enroll, subject


async def test_a_student_reads_only_themself_in_a_batch(gateway: Gateway) -> None:
    ana = await account(gateway, "ana")
    await account(gateway, "bea")
    async with gateway.db.read() as db:
        found = await service.get_users(db, ana, [" ANA ", "bea", ana.id, "nobody"])
    assert [type(f).__name__ for f in found] == ["UserView", "Forbidden", "UserView", "Forbidden"]
    assert found[0] == found[2]


async def test_staff_read_anyone_and_unknown_users_are_not_found(gateway: Gateway) -> None:
    prof = await account(gateway, "prof", Role.PROFESSOR)
    ana = await account(gateway, "ana")
    async with gateway.db.read() as db:
        found = await service.get_users(db, prof, [ana.id, "nobody", "bad\x00name"])
        one = await service.get_user(db, prof, "ANA")
        with pytest.raises(NotFound):
            await service.get_user(db, prof, "nobody")
        with pytest.raises(Unauthenticated):
            await service.get_users(db, None, ["ana"])
    assert [type(f).__name__ for f in found] == ["UserView", "NotFound", "NotFound"]
    assert one.username == "ana"


async def test_registration_conflicts_on_username_or_email(gateway: Gateway) -> None:
    await account(gateway, "ana")
    for username, email in (("ana", "other@example.com"), ("other", "ana@example.com")):
        data = RegisterInput(username=username, email=email, password=PASSWORD)
        async with gateway.db.transaction() as db:
            with pytest.raises(Conflict, match="already registered"):
                await service.create(db, gateway.passwords, data, role=Role.STUDENT)


async def test_update_me_changes_only_the_caller(gateway: Gateway) -> None:
    ana = await account(gateway, "ana")
    await account(gateway, "bea")
    changes = ProfileUpdate(
        full_name="Ana Maria", preferences=PreferencesPatch(theme="dark", notifications=False)
    )
    async with gateway.db.transaction() as db:
        view = await service.update_me(db, ana, changes)
    assert (view.full_name, view.theme, view.notifications) == ("Ana Maria", "dark", False)
    async with gateway.db.read() as db:
        bea = await repository.by_username(db, "bea")
    assert bea is not None and bea.full_name == "Bea" and bea.theme == "light"


async def test_update_me_refuses_a_taken_email_and_the_anonymous(gateway: Gateway) -> None:
    ana = await account(gateway, "ana")
    await account(gateway, "bea")
    async with gateway.db.transaction() as db:
        with pytest.raises(Conflict, match="Email already in use"):
            await service.update_me(db, ana, ProfileUpdate(email="BEA@example.com"))
        with pytest.raises(Unauthenticated):
            await service.update_me(db, None, ProfileUpdate(full_name="x"))
    # Re-setting one's own address is no conflict.
    async with gateway.db.transaction() as db:
        same = await service.update_me(db, ana, ProfileUpdate(email="ana@example.com"))
    assert same.email == "ana@example.com"


async def test_me_of_a_deleted_account_is_not_found(gateway: Gateway) -> None:
    ghost = Actor(id=(await account(gateway, "ghost")).id, username="ghost", role=Role.STUDENT)
    async with gateway.db.transaction() as db:
        await repository.remove(db, ghost.id)
    async with gateway.db.read() as db:
        with pytest.raises(NotFound):
            await service.me(db, ghost)


def test_who_sees_email_and_preferences() -> None:
    me, other = uuid.uuid4(), uuid.uuid4()
    student = Actor(id=me, username="s", role=Role.STUDENT)
    professor = Actor(id=uuid.uuid4(), username="p", role=Role.PROFESSOR)
    assert service.can_see_email(student, me) and not service.can_see_email(student, other)
    assert service.can_see_email(professor, other) and not service.can_see_email(None, me)
    assert service.can_see_preferences(student, me)
    assert not service.can_see_preferences(professor, other)


async def test_the_three_readers_of_a_users_subjects_agree(gateway: Gateway) -> None:
    """Profile codes, code batches and subject batches all read the one subject-links query:
    enrolled and taught subjects, each once, sorted by code."""
    admin = await account(gateway, "root", Role.ADMIN)
    prof = await account(gateway, "prof", Role.PROFESSOR)
    ana = await account(gateway, "ana")
    for code in ("ZED", "ALG", "MID"):
        await subject(gateway, admin, code, prof if code != "MID" else None)
    await enroll(gateway, ana, "MID")
    await enroll(gateway, ana, "ALG")
    # A professor demoted to student who enrolls in a subject they are still assigned to.
    async with gateway.db.transaction() as db:
        user = await repository.by_username(db, "prof")
        assert user is not None
        user.role = Role.STUDENT.value
    await enroll(gateway, Actor(id=prof.id, username="prof", role=Role.STUDENT), "ALG")
    async with gateway.db.read() as db:
        profiles = {u: await repository.profile_by_id(db, u) for u in (ana.id, prof.id, admin.id)}
        codes = await repository.subject_codes(db, profiles)
        subjects = await subject_rows.of_users(db, profiles)
    expected = {ana.id: ["ALG", "MID"], prof.id: ["ALG", "ZED"], admin.id: []}
    assert {u: p.subjects for u, p in profiles.items() if p} == expected
    assert {u: codes.get(u, []) for u in profiles} == expected
    assert {u: [s.id for s in subjects.get(u, [])] for u in profiles} == expected


async def test_forbidden_is_per_user_not_per_batch(gateway: Gateway) -> None:
    ana = await account(gateway, "ana")
    async with gateway.db.read() as db:
        mine, other = await service.get_users(db, ana, [ana.id, "root"])
    assert not isinstance(mine, Exception) and mine.username == "ana"
    assert isinstance(other, Forbidden)
