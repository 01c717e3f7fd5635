"""Professor views: the students of a professor's subjects and a subject's analytics.

Every figure is computed by the database (COUNT / AVG / MAX with GROUP BY and EXISTS); no row
of enrollments or attempts is loaded into Python. "Active" student: an enrolled student with a
chat session in the subject whose last_active, or a quiz attempt in the subject whose
created_at, falls within the last `active_days` days (GATEWAY_ACTIVE_DAYS)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import (
    ColumnElement,
    Integer,
    Numeric,
    Select,
    SQLColumnExpression,
    String,
    bindparam,
    case,
    cast,
    func,
    select,
    type_coerce,
    union,
)
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.auth.actor import Actor, require_actor, require_role
from gateway.db import UTCDateTime, utcnow
from gateway.sessions.models import ChatSession, QuizAttempt
from gateway.subjects import service as subjects
from gateway.subjects.models import Enrollment, Subject
from gateway.subjects.schemas import StudentView, SubjectView
from gateway.users.models import Role, User
from gateway.users.schemas import UserView

PROGRESS_DEFAULT_PAGE = 100


@dataclass(frozen=True, slots=True)
class Summary:
    subject_id: str
    name: str
    total_students: int
    active_students: int
    average_test_score: float | None


@dataclass(frozen=True, slots=True)
class Progress:
    username: str
    test_count: int
    average_score: float | None
    last_activity: dt.datetime | None


@dataclass(frozen=True, slots=True)
class Analytics:
    summary: Summary
    student_progress: list[Progress]


def _rounded_avg(column: SQLColumnExpression[float]) -> ColumnElement[float]:
    # AVG of a double is a double on both backends; round(numeric, 1) exists on both.
    return func.round(cast(func.avg(column), Numeric), 1)


def _later(
    a: ColumnElement[dt.datetime], b: ColumnElement[dt.datetime]
) -> ColumnElement[dt.datetime]:
    """The later of two nullable timestamps (GREATEST is PostgreSQL-only, SQLite's max() is
    NULL when either side is)."""
    return type_coerce(case((a.is_(None), b), (b.is_(None), a), (a > b, a), else_=b), UTCDateTime())


async def authorize(
    db: AsyncSession, actor: Actor | None, subject_id: str, *, known: SubjectView | None = None
) -> Subject | SubjectView:
    """A subject's analytics: 401 anonymous, 404 unknown subject, 403 unless its professor or
    an admin. `known`: the subject as already read from the database in this request (a
    GraphQL parent field), so that one request reads it once."""
    actor = require_actor(actor)
    subject: Subject | SubjectView
    if known is not None and known.id == subject_id:
        subject = known
    else:
        subject = await subjects.get_subject(db, subject_id)
    subjects.require_staff(actor, subject.professor_id)
    return subject


async def summary(
    db: AsyncSession,
    actor: Actor | None,
    subject_id: str,
    *,
    active_days: int,
    known: SubjectView | None = None,
) -> Summary:
    subject = await authorize(db, actor, subject_id, known=known)
    return await _summary(db, subject, active_days)


def _summary_statement() -> Select[int, int, Decimal | None]:
    sid = bindparam("sid", type_=String())
    since = bindparam("since", type_=UTCDateTime())
    # Students with recent activity, as one UNION probed against the enrollments (an OR of two
    # correlated EXISTS made PostgreSQL plan hashed subplans costly enough to trigger JIT).
    recent = union(
        select(ChatSession.user_id).where(
            ChatSession.subject_id == sid, ChatSession.last_active >= since
        ),
        select(QuizAttempt.user_id).where(
            QuizAttempt.subject_id == sid, QuizAttempt.created_at >= since
        ),
    )
    total = select(func.count()).where(Enrollment.subject_id == sid).scalar_subquery()
    active = (
        select(func.count())
        .where(Enrollment.subject_id == sid, Enrollment.student_id.in_(recent))
        .scalar_subquery()
    )
    average = (
        select(_rounded_avg(QuizAttempt.percentage))
        .where(QuizAttempt.subject_id == sid)
        .scalar_subquery()
    )
    return select(total, active, average)


# Built once, with bound parameters: building and cache-keying these statements on every
# request was a third of the analytics request's CPU.
SUMMARY = _summary_statement()


async def _summary(db: AsyncSession, subject: Subject | SubjectView, active_days: int) -> Summary:
    since = utcnow() - dt.timedelta(days=active_days)
    row = (await db.execute(SUMMARY, {"sid": subject.id, "since": since})).one()
    return Summary(
        subject_id=subject.id,
        name=subject.name,
        total_students=int(row[0]),
        active_students=int(row[1]),
        average_test_score=float(row[2]) if row[2] is not None else None,
    )


async def student_progress(
    db: AsyncSession,
    actor: Actor | None,
    subject_id: str,
    *,
    limit: int,
    skip: int = 0,
    after: str = "",
    known: SubjectView | None = None,
) -> list[Progress]:
    """`after`: only students whose username sorts after it (keyset paging)."""
    subject = await authorize(db, actor, subject_id, known=known)
    return await _progress(db, subject.id, limit=limit, skip=skip, after=after)


def _progress_statement() -> Select[str, int, Decimal | None, dt.datetime | None]:
    """One page of enrolled students by username; aggregates only for that page's students."""
    sid = bindparam("sid", type_=String())
    page = (
        select(User.id, User.username)
        .join(Enrollment, Enrollment.student_id == User.id)
        .where(Enrollment.subject_id == sid)
        # Keyset: GraphQL pages after a username (its cursor), REST after "" with an offset.
        .where(User.username > bindparam("after", type_=String()))
        .order_by(User.username)
        .limit(bindparam("limit", type_=Integer()))
        .offset(bindparam("skip", type_=Integer()))
        .cte("page")
    )
    attempts = (
        select(
            QuizAttempt.user_id,
            func.count().label("n"),
            _rounded_avg(QuizAttempt.percentage).label("average"),
            func.max(QuizAttempt.created_at).label("last"),
        )
        .where(QuizAttempt.subject_id == sid, QuizAttempt.user_id.in_(select(page.c.id)))
        .group_by(QuizAttempt.user_id)
        .subquery()
    )
    sessions = (
        select(ChatSession.user_id, func.max(ChatSession.last_active).label("last"))
        .where(ChatSession.subject_id == sid, ChatSession.user_id.in_(select(page.c.id)))
        .group_by(ChatSession.user_id)
        .subquery()
    )
    return (
        select(
            page.c.username,
            func.coalesce(attempts.c.n, 0),
            attempts.c.average,
            _later(attempts.c["last"], sessions.c["last"]),
        )
        .outerjoin(attempts, attempts.c.user_id == page.c.id)
        .outerjoin(sessions, sessions.c.user_id == page.c.id)
        .order_by(page.c.username)
    )


PROGRESS = _progress_statement()


async def _progress(
    db: AsyncSession, sid: str, *, limit: int, skip: int, after: str = ""
) -> list[Progress]:
    rows = await db.execute(PROGRESS, {"sid": sid, "limit": limit, "skip": skip, "after": after})
    return [
        Progress(
            username=username,
            test_count=int(count),
            average_score=float(average) if average is not None else None,
            last_activity=last,
        )
        for username, count, average, last in rows
    ]


async def subject_analytics(
    db: AsyncSession,
    actor: Actor | None,
    subject_id: str,
    *,
    active_days: int,
    limit: int = PROGRESS_DEFAULT_PAGE,
    skip: int = 0,
) -> Analytics:
    subject = await authorize(db, actor, subject_id)
    return Analytics(
        summary=await _summary(db, subject, active_days),
        student_progress=await _progress(db, subject.id, limit=limit, skip=skip),
    )


async def my_students(
    db: AsyncSession,
    actor: Actor | None,
    *,
    subject_id: str | None = None,
    limit: int,
    skip: int = 0,
    after: str | None = None,
) -> list[StudentView]:
    """Students enrolled in the caller's subjects (every subject for admins), by username.
    `enrolled_subjects` lists only the subjects the caller may see (their own; all for admins).
    `after`: only students whose username sorts after it (keyset paging)."""
    actor = require_role(
        actor, Role.PROFESSOR, Role.ADMIN, detail="Insufficient permissions (not professor)"
    )
    # The SQL form of subjects.service.teaches: the role was required just above.
    visible: ColumnElement[bool] = (
        Enrollment.subject_id.is_not(None)
        if actor.is_admin
        else Enrollment.subject_id.in_(select(Subject.id).where(Subject.professor_id == actor.id))
    )
    wanted = visible
    if subject_id is not None:
        subject = await subjects.get_subject(db, subject_id)
        subjects.require_staff(actor, subject.professor_id)
        wanted = Enrollment.subject_id == subject_id
    students = select(User).where(User.id.in_(select(Enrollment.student_id).where(wanted)))
    if after is not None:
        students = students.where(User.username > after)
    page = list(await db.scalars(students.order_by(User.username).limit(limit).offset(skip)))
    codes: dict[uuid.UUID, list[str]] = defaultdict(list)
    if page:
        rows = await db.execute(
            select(Enrollment.student_id, Enrollment.subject_id)
            .where(visible, Enrollment.student_id.in_([u.id for u in page]))
            .order_by(Enrollment.student_id, Enrollment.subject_id)
        )
        for uid, sid in rows:
            codes[uid].append(sid)
    return [
        StudentView(
            id=u.id,
            username=u.username,
            full_name=u.full_name,
            email=u.email,
            enrolled_subjects=codes[u.id],
            user=UserView.model_validate(u),
        )
        for u in page
    ]
