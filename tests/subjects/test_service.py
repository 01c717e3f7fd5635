"""The subjects service's rules, called directly against the database (no HTTP): who may
create, edit, delete, enroll and see a subject's students, and what is validated."""

from __future__ import annotations

import pytest

from gateway.auth.actor import Actor
from gateway.errors import (
    AlreadyEnrolled,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthenticated,
)
from gateway.runtime import Gateway
from gateway.subjects import service
from gateway.subjects.schemas import SubjectCreate, SubjectUpdate
from gateway.subjects.service import StudentsPage
from gateway.users.models import Role
from tests.services import account, enroll, subject


async def _world(gw: Gateway) -> dict[str, Actor]:
    people = {
        "admin": await account(gw, "root", Role.ADMIN),
        "prof": await account(gw, "prof", Role.PROFESSOR),
        "other": await account(gw, "other", Role.PROFESSOR),
        "ana": await account(gw, "ana"),
        "bea": await account(gw, "bea"),
    }
    await subject(gw, people["admin"], "MINE", people["prof"])
    await subject(gw, people["admin"], "THEIRS", people["other"])
    for student in ("ana", "bea"):
        await enroll(gw, people[student], "MINE")
    await enroll(gw, people["ana"], "THEIRS")
    return people


async def test_students_only_for_the_subjects_professor_and_admins(gateway: Gateway) -> None:
    w = await _world(gateway)
    pages = [
        StudentsPage("MINE", w["prof"].id, 10),
        StudentsPage("THEIRS", w["other"].id, 10),
        StudentsPage("MINE", w["prof"].id, 1, after="ana"),
    ]
    async with gateway.db.read() as db:
        as_prof = await service.students_of_subjects(db, w["prof"], pages)
        as_admin = await service.students_of_subjects(db, w["admin"], pages)
        as_student = await service.students_of_subjects(db, w["ana"], pages)
        anonymous = await service.students_of_subjects(db, None, pages)
    names = [[u.username for u in p] if isinstance(p, list) else type(p).__name__ for p in as_prof]
    assert names == [["ana", "bea"], "Forbidden", ["bea"]]
    assert [[u.username for u in p] for p in as_admin if isinstance(p, list)] == [
        ["ana", "bea"],
        ["ana"],
        ["bea"],
    ]
    assert all(isinstance(p, Forbidden) for p in as_student)
    assert all(isinstance(p, Unauthenticated) for p in anonymous)
    # The students come with their own subjects.
    first = as_admin[0]
    assert isinstance(first, list) and first[0].subjects == ["MINE", "THEIRS"]


async def test_a_demoted_professor_loses_their_subjects_students(gateway: Gateway) -> None:
    w = await _world(gateway)
    demoted = Actor(id=w["prof"].id, username="prof", role=Role.STUDENT)
    async with gateway.db.read() as db:
        (page,) = await service.students_of_subjects(
            db, demoted, [StudentsPage("MINE", w["prof"].id, 10)]
        )
    assert isinstance(page, Forbidden)


async def test_only_admins_create_and_delete(gateway: Gateway) -> None:
    w = await _world(gateway)
    data = SubjectCreate.model_validate({"subject_id": "NEW", "name": "New"})
    async with gateway.db.transaction() as db:
        for who in ("prof", "ana"):
            with pytest.raises(Forbidden):
                await service.create_subject(db, w[who], data)
            with pytest.raises(Forbidden):
                await service.delete_subject(db, w[who], "MINE")
        with pytest.raises(Unauthenticated):
            await service.create_subject(db, None, data)
        with pytest.raises(Conflict):
            await service.create_subject(
                db, w["admin"], SubjectCreate.model_validate({"subject_id": "MINE", "name": "x"})
            )
        with pytest.raises(NotFound):
            await service.delete_subject(db, w["admin"], "NOPE")


async def test_a_subjects_professor_must_be_a_professor(gateway: Gateway) -> None:
    w = await _world(gateway)
    async with gateway.db.transaction() as db:
        for name, error in (("ana", InvalidInput), ("nobody", NotFound)):
            data = SubjectCreate.model_validate(
                {"subject_id": "NEW", "name": "New", "professor_id": name}
            )
            with pytest.raises(error):
                await service.create_subject(db, w["admin"], data)
    async with gateway.db.transaction() as db:
        made = await service.create_subject(
            db,
            w["admin"],
            SubjectCreate.model_validate(
                {"subject_id": "NEW", "name": "N", "professor_id": "PROF"}
            ),
        )
    assert (made.professor_id, made.professor_username) == (w["prof"].id, "prof")


async def test_professors_edit_their_own_subject_and_cannot_hand_it_over(
    gateway: Gateway,
) -> None:
    w = await _world(gateway)
    async with gateway.db.transaction() as db:
        edited = await service.update_subject(db, w["prof"], "MINE", SubjectUpdate(name="Renamed"))
        kept = await service.update_subject(
            db, w["prof"], "MINE", SubjectUpdate(professor_id="prof")
        )
        with pytest.raises(Forbidden, match="Only an admin"):
            await service.update_subject(db, w["prof"], "MINE", SubjectUpdate(professor_id="other"))
        with pytest.raises(Forbidden):
            await service.update_subject(db, w["prof"], "THEIRS", SubjectUpdate(name="x"))
        with pytest.raises(Forbidden):
            await service.update_subject(db, w["ana"], "MINE", SubjectUpdate(name="x"))
        with pytest.raises(NotFound):
            await service.update_subject(db, w["admin"], "NOPE", SubjectUpdate(name="x"))
        moved = await service.update_subject(
            db, w["admin"], "MINE", SubjectUpdate(professor_id="other")
        )
    assert edited.name == "Renamed" and kept.professor_username == "prof"
    assert moved.professor_username == "other"


async def test_enrollment_is_for_students_once(gateway: Gateway) -> None:
    w = await _world(gateway)
    async with gateway.db.transaction() as db:
        with pytest.raises(InvalidInput, match="Student role required"):
            await service.enroll(db, w["prof"], "MINE")
        with pytest.raises(AlreadyEnrolled):
            await service.enroll(db, w["ana"], "MINE")
        with pytest.raises(NotFound):
            await service.enroll(db, w["ana"], "NOPE")
        with pytest.raises(NotFound, match="Not enrolled"):
            await service.unenroll(db, w["bea"], "THEIRS")
        await service.unenroll(db, w["bea"], "MINE")
    async with gateway.db.read() as db:
        assert [s.id for s in await service.enrolled_subjects(db, w["bea"])] == []
        assert [s.id for s in await service.enrolled_subjects(db, w["ana"])] == ["MINE", "THEIRS"]
        assert await service.enrolled_among(db, w["ana"], ["MINE", "NOPE"]) == {"MINE"}
        assert await service.enrolled_among(db, None, ["MINE"]) == set()


async def test_the_catalogue_is_for_signed_in_callers_with_a_bounded_search(
    gateway: Gateway,
) -> None:
    w = await _world(gateway)
    async with gateway.db.read() as db:
        with pytest.raises(Unauthenticated):
            await service.list_subject_rows(db, None, limit=10)
        with pytest.raises(InvalidInput):
            await service.list_subject_rows(db, w["ana"], search="x" * 201, limit=10)
        mine = await service.list_subject_rows(
            db, w["ana"], professor=" PROF ", limit=10, with_count=True, with_professor=True
        )
        by_id = await service.list_subject_rows(db, w["ana"], professor=w["other"].id, limit=10)
        found = await service.get_subject_views(db, w["ana"], ["THEIRS", "NOPE", "a\x00b"])
    assert [(r.view.id, r.student_count) for r in mine] == [("MINE", 2)]
    assert mine[0].professor is not None and mine[0].professor.username == "prof"
    assert [r.view.id for r in by_id] == ["THEIRS"]
    assert [type(f).__name__ for f in found] == ["SubjectView", "NotFound", "NotFound"]
