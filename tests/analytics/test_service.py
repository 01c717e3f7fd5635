"""The analytics service's rules, called directly against the database (no HTTP): who may read a
subject's analytics, the scoping of a professor's students, and summary figures that equal a
recomputation from the seeded chat sessions and quiz attempts themselves."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import ROUND_HALF_UP, Decimal

import pytest
from sqlalchemy import select

from gateway.analytics import aggregates, service
from gateway.auth.actor import Actor
from gateway.db import utcnow
from gateway.errors import Forbidden, NotFound, Unauthenticated
from gateway.runtime import Gateway
from gateway.sessions.models import ChatSession, QuizAttempt
from gateway.subjects import service as subjects
from gateway.subjects.models import Enrollment
from gateway.subjects.schemas import StudentView
from gateway.users.models import Role
from tests.services import account, enroll, subject

ACTIVE_DAYS = 7


def ago(days: float) -> dt.datetime:
    return utcnow() - dt.timedelta(days=days)


async def attempt(gw: Gateway, student: Actor, code: str, percentage: float, days: float) -> None:
    """A quiz attempt as the quiz flow records it: the row and the subject's aggregates."""
    at = ago(days)
    async with gw.db.transaction() as db:
        db.add(
            QuizAttempt(
                user_id=student.id,
                subject_id=code,
                correct=round(percentage / 10),
                total=10,
                percentage=percentage,
                created_at=at,
            )
        )
        await aggregates.quiz_recorded(db, student.id, code, percentage, at)


async def chat(gw: Gateway, student: Actor, code: str, days: float) -> None:
    sid = uuid.uuid4().hex
    async with gw.db.transaction() as db:
        db.add(ChatSession(id=sid, user_id=student.id, subject_id=code, last_active=ago(days)))
        await db.flush()
        await aggregates.chat_touched(db, sid)


async def _world(gw: Gateway) -> dict[str, Actor]:
    """MINE and MINE2 are prof's, THEIRS other's. ana, bea, cai take MINE (cai only MINE);
    bea also MINE2 and THEIRS; dan takes only THEIRS; eve is enrolled nowhere but took a quiz
    in MINE."""
    people = {
        "admin": await account(gw, "root", Role.ADMIN),
        "prof": await account(gw, "prof", Role.PROFESSOR),
        "other": await account(gw, "other", Role.PROFESSOR),
        **{name: await account(gw, name) for name in ("ana", "bea", "cai", "dan", "eve")},
    }
    await subject(gw, people["admin"], "MINE", people["prof"])
    await subject(gw, people["admin"], "MINE2", people["prof"])
    await subject(gw, people["admin"], "THEIRS", people["other"])
    for student, code in [
        ("ana", "MINE"),
        ("bea", "MINE"),
        ("cai", "MINE"),
        ("bea", "MINE2"),
        ("bea", "THEIRS"),
        ("dan", "THEIRS"),
    ]:
        await enroll(gw, people[student], code)
    # Hundredths that a careless mean would round the other way: the mean is 58.35 exactly.
    await attempt(gw, people["ana"], "MINE", 66.67, days=1)
    await attempt(gw, people["ana"], "MINE", 45.55, days=20)
    await attempt(gw, people["bea"], "MINE", 80.0, days=30)
    await attempt(gw, people["eve"], "MINE", 41.18, days=2)
    await attempt(gw, people["dan"], "THEIRS", 99.0, days=1)
    await chat(gw, people["bea"], "MINE", days=3)  # bea is active by a chat
    await chat(gw, people["cai"], "MINE", days=12)  # cai is not, by a week
    await chat(gw, people["dan"], "MINE", days=1)  # not enrolled in MINE: never counted
    return people


def mean(percentages: list[Decimal]) -> float | None:
    if not percentages:
        return None
    exact = sum(percentages, Decimal(0)) / len(percentages)
    return float(exact.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


async def test_a_subjects_analytics_only_for_its_professor_and_admins(gateway: Gateway) -> None:
    w = await _world(gateway)
    async with gateway.db.read() as db:
        for who in ("prof", "admin"):
            got = await service.subject_analytics(db, w[who], "MINE", active_days=ACTIVE_DAYS)
            assert got.summary.subject_id == "MINE"
            assert [p.username for p in got.student_progress] == ["ana", "bea", "cai"]
        for who in ("other", "ana"):
            with pytest.raises(Forbidden, match="Not this subject's professor"):
                await service.subject_analytics(db, w[who], "MINE", active_days=ACTIVE_DAYS)
            with pytest.raises(Forbidden):
                await service.summary(db, w[who], "MINE", active_days=ACTIVE_DAYS)
            with pytest.raises(Forbidden):
                await service.student_progress(db, w[who], "MINE", limit=10)
        with pytest.raises(Unauthenticated):
            await service.subject_analytics(db, None, "MINE", active_days=ACTIVE_DAYS)
        with pytest.raises(Unauthenticated):
            await service.student_progress(db, None, "MINE", limit=10)
        with pytest.raises(NotFound):
            await service.subject_analytics(db, w["admin"], "NOPE", active_days=ACTIVE_DAYS)
        with pytest.raises(NotFound):
            await service.student_progress(db, w["prof"], "NOPE", limit=10)
        # The other professor's own subject is theirs to read.
        theirs = await service.summary(db, w["other"], "THEIRS", active_days=ACTIVE_DAYS)
        assert theirs.total_students == 2


async def test_a_subject_already_read_is_still_authorized(gateway: Gateway) -> None:
    """The `known` subject a GraphQL parent passes in saves a read, never the check."""
    w = await _world(gateway)
    async with gateway.db.read() as db:
        (view,) = await subjects.get_subject_views(db, w["other"], ["MINE"])
        assert not isinstance(view, Exception)
        with pytest.raises(Forbidden):
            await service.summary(db, w["other"], "MINE", active_days=ACTIVE_DAYS, known=view)
        with pytest.raises(Forbidden):
            await service.student_progress(db, w["ana"], "MINE", limit=10, known=view)
        mine = await service.summary(db, w["prof"], "MINE", active_days=ACTIVE_DAYS, known=view)
    assert mine.name == "Subject MINE"


async def test_summaries_authorize_each_subject_and_equal_the_single_summary(
    gateway: Gateway,
) -> None:
    """The batched read (GraphQL loaders): per subject `summary`'s answer, a refused subject
    its error; a subject nobody joined yet reads as zeros."""
    w = await _world(gateway)
    await subject(gateway, w["admin"], "EMPTY", w["prof"])
    codes = ["MINE", "THEIRS", "MINE2", "EMPTY", "MINE"]
    async with gateway.db.read() as db:
        views = await subjects.get_subject_views(db, w["admin"], codes)
        found = [v for v in views if not isinstance(v, Exception)]
        assert len(found) == len(codes)
        for who in ("admin", "prof", "other", "ana"):
            got = await service.summaries(db, w[who], found, active_days=ACTIVE_DAYS)
            assert len(got) == len(codes)
            for code, item in zip(codes, got, strict=True):
                try:
                    single = await service.summary(db, w[who], code, active_days=ACTIVE_DAYS)
                except Forbidden as refused:
                    assert isinstance(item, Forbidden), (who, code, item)
                    assert str(item) == str(refused)
                else:
                    assert item == single, (who, code)
        mine = await service.summaries(db, w["prof"], found, active_days=ACTIVE_DAYS)
        assert [type(s).__name__ for s in mine] == ["Summary", "Forbidden", *["Summary"] * 3]
        assert mine[3] == service.Summary("EMPTY", "Subject EMPTY", 0, 0, None)
        assert all(
            isinstance(s, Unauthenticated)
            for s in await service.summaries(db, None, found, active_days=ACTIVE_DAYS)
        )
        assert await service.summaries(db, w["admin"], [], active_days=ACTIVE_DAYS) == []


async def test_the_summary_equals_a_recomputation_from_the_rows(gateway: Gateway) -> None:
    w = await _world(gateway)
    since = ago(ACTIVE_DAYS)
    async with gateway.db.read() as db:
        for code in ("MINE", "MINE2", "THEIRS"):
            enrolled = set(
                await db.scalars(select(Enrollment.student_id).where(Enrollment.subject_id == code))
            )
            attempts = (
                await db.execute(
                    select(
                        QuizAttempt.user_id, QuizAttempt.percentage, QuizAttempt.created_at
                    ).where(QuizAttempt.subject_id == code)
                )
            ).all()
            chats = (
                await db.execute(
                    select(ChatSession.user_id, ChatSession.last_active).where(
                        ChatSession.subject_id == code
                    )
                )
            ).all()
            active = {u for u, _, at in attempts if at >= since} | {
                u for u, at in chats if at >= since
            }
            got = await service.summary(db, w["admin"], code, active_days=ACTIVE_DAYS)
            assert (got.total_students, got.active_students, got.average_test_score) == (
                len(enrolled),
                len(active & enrolled),
                mean([Decimal(str(p)) for _, p, _ in attempts]),
            ), code
            progress = await service.student_progress(db, w["admin"], code, limit=10)
            assert {w[row.username].id for row in progress} == enrolled, code
            for row in progress:
                uid = w[row.username].id
                assert uid in enrolled
                own = [Decimal(str(p)) for u, p, _ in attempts if u == uid]
                assert (row.test_count, row.average_score) == (len(own), mean(own)), row
        mine = await service.summary(db, w["prof"], "MINE", active_days=ACTIVE_DAYS)
    # The seeded scene, stated plainly: every attempt in MINE counts (eve's too), and ana (a
    # quiz yesterday) and bea (a chat 3 days ago) are its active students.
    assert (mine.total_students, mine.active_students, mine.average_test_score) == (3, 2, 58.4)


async def test_a_professor_sees_only_the_students_of_their_own_subjects(
    gateway: Gateway,
) -> None:
    w = await _world(gateway)
    async with gateway.db.read() as db:
        as_prof = await service.my_students(db, w["prof"], limit=10)
        as_other = await service.my_students(db, w["other"], limit=10)
        as_admin = await service.my_students(db, w["admin"], limit=10)
        only_mine2 = await service.my_students(db, w["prof"], subject_id="MINE2", limit=10)
        paged = await service.my_students(db, w["prof"], limit=1, after="ana")
        for subject_id in ("THEIRS", "NOPE"):
            error = Forbidden if subject_id == "THEIRS" else NotFound
            with pytest.raises(error):
                await service.my_students(db, w["prof"], subject_id=subject_id, limit=10)
        with pytest.raises(Forbidden, match="not professor"):
            await service.my_students(db, w["ana"], limit=10)
        with pytest.raises(Unauthenticated):
            await service.my_students(db, None, limit=10)
        by_admin = await service.my_students(db, w["admin"], subject_id="THEIRS", limit=10)

    def names(page: list[StudentView]) -> list[tuple[str, list[str]]]:
        return [(s.username, s.enrolled_subjects) for s in page]

    assert names(as_prof) == [("ana", ["MINE"]), ("bea", ["MINE", "MINE2"]), ("cai", ["MINE"])]
    assert names(as_other) == [("bea", ["THEIRS"]), ("dan", ["THEIRS"])]
    assert names(as_admin) == [
        ("ana", ["MINE"]),
        ("bea", ["MINE", "MINE2", "THEIRS"]),
        ("cai", ["MINE"]),
        ("dan", ["THEIRS"]),
    ]
    assert names(only_mine2) == [("bea", ["MINE", "MINE2"])]
    assert names(paged) == [("bea", ["MINE", "MINE2"])]
    assert names(by_admin) == [("bea", ["MINE", "MINE2", "THEIRS"]), ("dan", ["THEIRS"])]
