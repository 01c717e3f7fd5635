"""Professor views: the students of a professor's subjects and a subject's analytics.

The figures come from the aggregates maintained at write time (gateway/analytics/aggregates.py,
docs/analytics.md): a summary is one stored row plus an index range count, a page of progress
one index range; no row of enrollments or attempts is read. "Active" student: an enrolled
student with a chat session in the subject whose last_active, or a quiz attempt in the subject
whose created_at, falls within the last `active_days` days (GATEWAY_ACTIVE_DAYS)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.adapters.broker import Broker
from gateway.analytics import live, repository
from gateway.auth.actor import Actor, require_actor, require_role
from gateway.db import Database, utcnow
from gateway.errors import DomainError
from gateway.subjects import service as subjects
from gateway.subjects.models import Subject
from gateway.subjects.schemas import StudentView, SubjectView
from gateway.users.models import Role
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


def average(points: int, count: int) -> float | None:
    """Mean percentage from the stored sum (in hundredths): 1 decimal, halves away from zero."""
    if count == 0:
        return None
    mean = Decimal(points) / Decimal(count * 100)
    return float(mean.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


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


async def summaries(
    db: AsyncSession, actor: Actor | None, subjects: Sequence[SubjectView], *, active_days: int
) -> list[Summary | DomainError]:
    """`summary` of several subjects already read in this request (GraphQL Subject.analytics
    and node batches): each authorized as `summary` authorizes it, a refused one is its error
    and the others are read, in one statement whatever their number."""
    result: list[Summary | DomainError | None] = []
    allowed: set[str] = set()
    for subject in subjects:
        try:
            await authorize(db, actor, subject.id, known=subject)
        except DomainError as exc:
            result.append(exc)
            continue
        result.append(None)
        allowed.add(subject.id)
    rows = await repository.summary_rows(db, allowed, _since(active_days))
    return [
        _summary_of(subject, rows[subject.id]) if found is None else found
        for subject, found in zip(subjects, result, strict=True)
    ]


def _since(active_days: int) -> dt.datetime:
    return utcnow() - dt.timedelta(days=active_days)


async def _summary(db: AsyncSession, subject: Subject | SubjectView, active_days: int) -> Summary:
    return _summary_of(subject, await repository.summary_row(db, subject.id, _since(active_days)))


def _summary_of(subject: Subject | SubjectView, figures: repository.Figures) -> Summary:
    enrolled, active, attempts, points = figures
    return Summary(
        subject_id=subject.id,
        name=subject.name,
        total_students=enrolled,
        active_students=active,
        average_test_score=average(points, attempts),
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


async def _progress(
    db: AsyncSession, sid: str, *, limit: int, skip: int, after: str = ""
) -> list[Progress]:
    rows = await repository.progress_rows(db, sid, limit=limit, skip=skip, after=after)
    return [_progress_of(row) for row in rows]


def _progress_of(row: tuple[str, int, int, dt.datetime | None]) -> Progress:
    """A stored (username, attempts, points in hundredths, last activity) row."""
    username, count, points, last = row
    return Progress(username, count, average(points, count), last)


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


@dataclass(frozen=True, slots=True)
class Change:
    """What a live subscriber receives: the subject's summary and the changed student's row
    (None when that student is not enrolled, e.g. after unenrolling)."""

    subject: SubjectView
    summary: Summary
    student: Progress | None


async def watch_subject(
    database: Database,
    broker: Broker,
    actor: Actor | None,
    subject_id: str,
    reread_caller: Callable[[], Awaitable[Actor | None]],
    *,
    active_days: int,
) -> AsyncGenerator[Change, None]:
    """The subject's figures each time a quiz completes or an enrollment changes, from any
    process. Authorized now as the analytics query is, so a refusal comes before any event;
    before each event the caller is re-read and re-authorized (a demoted professor, a deleted
    account or a deleted subject ends the stream with that error)."""
    async with database.read() as db:
        await authorize(db, actor, subject_id)
    return _changes(database, broker, subject_id, reread_caller, active_days)


async def _changes(
    database: Database,
    broker: Broker,
    subject_id: str,
    reread_caller: Callable[[], Awaitable[Actor | None]],
    active_days: int,
) -> AsyncGenerator[Change, None]:
    async with broker.subscribe(live.channel(subject_id)) as queue:
        while True:
            event = await queue.get()
            actor = await reread_caller()
            async with database.read() as db:
                found = await subjects.get_subject_views(db, actor, [subject_id])
                view = found[0]
                if isinstance(view, DomainError):
                    raise view
                await authorize(db, actor, subject_id, known=view)
                summary = await _summary(db, view, active_days)
                row = await repository.progress_row_of(db, subject_id, uuid.UUID(event["student"]))
            yield Change(view, summary, None if row is None else _progress_of(row))


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
    if subject_id is not None:
        subject = await subjects.get_subject(db, subject_id)
        subjects.require_staff(actor, subject.professor_id)
    # The SQL form of subjects.service.teaches (the role was required just above): the
    # caller's own subjects, every subject for admins.
    page, codes = await repository.students_page(
        db,
        teacher_id=None if actor.is_admin else actor.id,
        subject_id=subject_id,
        limit=limit,
        skip=skip,
        after=after,
    )
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
