"""Keeping the analytics aggregates exact: one call per write path, in the writer's transaction.

Every change is a single SQL statement that adds to (or subtracts from) the stored value, or an
upsert that does, so concurrent writers never lose a count: the database serialises them on the
row. Nothing is read into Python and written back. The figures (docs/analytics.md):

- subject_stats: enrolled students, quiz attempts and the sum of their percentages;
- subject_student_stats: per (subject, student) attempts, percentage sum, last quiz, last chat
  session activity, their later one, and whether the student is enrolled.

A session delete is the one write that can lower a maximum (the student's last chat activity):
there the value is recomputed in SQL from that student's remaining sessions in the subject,
after locking the aggregate row so that the recomputation sees every committed touch."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any, Protocol, cast

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    String,
    Table,
    Uuid,
    bindparam,
    case,
    exists,
    false,
    func,
    literal,
    select,
    true,
    type_coerce,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from gateway.analytics import live
from gateway.analytics.models import StudentStats, SubjectStats
from gateway.db import UTCDateTime
from gateway.sessions.models import ChatSession
from gateway.users.models import User

Executor = AsyncSession | AsyncConnection
SUBJECT = cast(Table, SubjectStats.__table__)
STUDENT = cast(Table, StudentStats.__table__)
SESSIONS = cast(Table, ChatSession.__table__)
USERS = cast(Table, User.__table__)
PAIR = ["subject_id", "student_id"]
DIALECTS = {"postgresql": postgresql, "sqlite": sqlite}


def hundredths(percentage: float) -> int:
    """A quiz percentage (two decimals, sessions/quiz.py) as an exact integer."""
    return round(percentage * 100)


def later(a: ColumnElement[Any], b: ColumnElement[Any]) -> ColumnElement[dt.datetime]:
    """The later of two nullable timestamps, on both engines (GREATEST is PostgreSQL-only and
    SQLite's max() is NULL when either side is)."""
    return type_coerce(case((a.is_(None), b), (b.is_(None), a), (a > b, a), else_=b), UTCDateTime())


def _dialect_name(db: Executor) -> str:
    return db.dialect.name if isinstance(db, AsyncConnection) else db.get_bind().dialect.name


# --- statements, built once per dialect with bound parameters -------------------------------
# Building an upsert and computing its cache key on every call cost more CPU than running it.

SID = bindparam("sid", type_=String())
STUDENT_ID = bindparam("student", type_=Uuid())


def _subject_add(module: Any) -> Any:
    insert = module.insert(SUBJECT)
    return insert.values(
        subject_id=SID,
        enrolled_count=bindparam("enrolled", type_=Integer()),
        attempt_count=bindparam("attempts", type_=Integer()),
        percentage_hundredths=bindparam("points", type_=BigInteger()),
    ).on_conflict_do_update(
        index_elements=["subject_id"],
        set_={
            "enrolled_count": SUBJECT.c.enrolled_count + insert.excluded.enrolled_count,
            "attempt_count": SUBJECT.c.attempt_count + insert.excluded.attempt_count,
            "percentage_hundredths": SUBJECT.c.percentage_hundredths
            + insert.excluded.percentage_hundredths,
        },
    )


def _pair_enroll(module: Any) -> Any:
    row = select(SID, USERS.c.id, USERS.c.username, true(), literal(0), literal(0)).where(
        USERS.c.id == STUDENT_ID
    )
    columns = ["subject_id", "student_id", "username", "enrolled", "attempt_count"]
    return (
        module.insert(STUDENT)
        .from_select([*columns, "percentage_hundredths"], row)
        .on_conflict_do_update(index_elements=PAIR, set_={"enrolled": true()})
    )


def _pair_reply(module: Any) -> Any:
    insert = module.insert(STUDENT)
    chat = bindparam("chat_at", type_=UTCDateTime())
    quiz = bindparam("quiz_at", type_=UTCDateTime())
    row = select(
        SID,
        USERS.c.id,
        USERS.c.username,
        false(),
        bindparam("attempts", type_=Integer()),
        bindparam("points", type_=BigInteger()),
        quiz,
        chat,
        later(quiz, chat),
    ).where(USERS.c.id == STUDENT_ID)
    columns = ["subject_id", "student_id", "username", "enrolled", "attempt_count"]
    columns += ["percentage_hundredths", "last_quiz_at", "last_chat_at", "last_activity_at"]
    new = insert.excluded
    return insert.from_select(columns, row).on_conflict_do_update(
        index_elements=PAIR,
        set_={
            "attempt_count": STUDENT.c.attempt_count + new.attempt_count,
            "percentage_hundredths": STUDENT.c.percentage_hundredths + new.percentage_hundredths,
            "last_quiz_at": later(STUDENT.c.last_quiz_at, new.last_quiz_at),
            "last_chat_at": later(STUDENT.c.last_chat_at, new.last_chat_at),
            "last_activity_at": later(STUDENT.c.last_activity_at, new.last_activity_at),
        },
    )


def _pair_chat(module: Any) -> Any:
    insert = module.insert(STUDENT)
    row = (
        select(
            SESSIONS.c.subject_id,
            SESSIONS.c.user_id,
            USERS.c.username,
            false(),
            literal(0),
            literal(0),
            SESSIONS.c.last_active,
            SESSIONS.c.last_active,
        )
        .join(USERS, USERS.c.id == SESSIONS.c.user_id)
        .where(SESSIONS.c.id == bindparam("session", type_=String()))
    )
    columns = ["subject_id", "student_id", "username", "enrolled", "attempt_count"]
    columns += ["percentage_hundredths", "last_chat_at", "last_activity_at"]
    return insert.from_select(columns, row).on_conflict_do_update(
        index_elements=PAIR,
        set_={
            "last_chat_at": later(STUDENT.c.last_chat_at, insert.excluded.last_chat_at),
            "last_activity_at": later(STUDENT.c.last_activity_at, insert.excluded.last_chat_at),
        },
    )


SUBJECT_ADD = {name: _subject_add(m) for name, m in DIALECTS.items()}
PAIR_ENROLL = {name: _pair_enroll(m) for name, m in DIALECTS.items()}
PAIR_REPLY = {name: _pair_reply(m) for name, m in DIALECTS.items()}
PAIR_CHAT = {name: _pair_chat(m) for name, m in DIALECTS.items()}
_THE_PAIR = (STUDENT.c.subject_id == SID) & (STUDENT.c.student_id == STUDENT_ID)
PAIR_UNENROLL = update(STUDENT).where(_THE_PAIR).values(enrolled=false())
PAIR_LOCK = select(STUDENT.c.subject_id).where(_THE_PAIR).with_for_update()
_REMAINING = (
    select(func.max(SESSIONS.c.last_active))
    .where(SESSIONS.c.subject_id == SID, SESSIONS.c.user_id == STUDENT_ID)
    .scalar_subquery()
)
PAIR_CHAT_RECOMPUTED = (
    update(STUDENT)
    .where(_THE_PAIR)
    .values(last_chat_at=_REMAINING, last_activity_at=later(STUDENT.c.last_quiz_at, _REMAINING))
)
USER_LOCK = select(USERS.c.id).where(USERS.c.id == STUDENT_ID).with_for_update()
# The subjects a user's deletion changes, locked in one order: an UPDATE locks rows in scan
# order, so two deletions sharing subjects could otherwise take them in opposite orders.
USER_SUBJECTS_LOCK = (
    select(SUBJECT.c.subject_id)
    .where(
        SUBJECT.c.subject_id.in_(
            select(STUDENT.c.subject_id).where(STUDENT.c.student_id == STUDENT_ID)
        )
    )
    .order_by(SUBJECT.c.subject_id)
    .with_for_update()
)


def _user_share_removed() -> Any:
    mine = (STUDENT.c.student_id == STUDENT_ID) & (STUDENT.c.subject_id == SUBJECT.c.subject_id)

    def share(column: ColumnElement[Any]) -> Any:
        return select(column).where(mine).scalar_subquery()

    return (
        update(SUBJECT)
        .where(exists().where(mine))
        .values(
            enrolled_count=SUBJECT.c.enrolled_count - share(case((STUDENT.c.enrolled, 1), else_=0)),
            attempt_count=SUBJECT.c.attempt_count - share(STUDENT.c.attempt_count),
            percentage_hundredths=SUBJECT.c.percentage_hundredths
            - share(STUDENT.c.percentage_hundredths),
        )
    )


USER_SHARE_REMOVED = _user_share_removed()


# --- the write paths ------------------------------------------------------------------------


async def _add_to_subject(
    db: Executor, subject_id: str, *, enrolled: int = 0, attempts: int = 0, points: int = 0
) -> None:
    values = {"sid": subject_id, "enrolled": enrolled, "attempts": attempts, "points": points}
    await db.execute(SUBJECT_ADD[_dialect_name(db)], values)


async def enrolled(db: Executor, student_id: uuid.UUID, subject_id: str) -> None:
    """After an enrollment row was inserted (not after a duplicate that inserted nothing)."""
    await db.execute(PAIR_ENROLL[_dialect_name(db)], {"sid": subject_id, "student": student_id})
    await _add_to_subject(db, subject_id, enrolled=1)
    live.announce(db, subject_id, student_id)


async def unenrolled(db: Executor, student_id: uuid.UUID, subject_id: str) -> None:
    """After an enrollment row was deleted (its student's figures in the subject stay)."""
    await db.execute(PAIR_UNENROLL, {"sid": subject_id, "student": student_id})
    await _add_to_subject(db, subject_id, enrolled=-1)
    live.announce(db, subject_id, student_id)


class AttemptFacts(Protocol):
    @property
    def percentage(self) -> float: ...

    @property
    def created_at(self) -> dt.datetime: ...


@dataclass(frozen=True, slots=True)
class Attempt:
    percentage: float
    created_at: dt.datetime


async def quiz_recorded(
    db: Executor, student_id: uuid.UUID, subject_id: str, percentage: float, at: dt.datetime
) -> None:
    """After a quiz attempt was inserted (outside the chat flow: tests, tools)."""
    await reply_stored(db, student_id, subject_id, None, Attempt(percentage, at))


async def reply_stored(
    db: Executor,
    student_id: uuid.UUID,
    subject_id: str,
    chat_at: dt.datetime | None,
    attempt: AttemptFacts | None,
) -> None:
    """After the tutor's reply was stored: the session's new last_active (`chat_at`) and the
    attempt, when the reply completed a quiz, in one upsert of the student's row (plus the
    subject's row for an attempt)."""
    points = 0 if attempt is None else hundredths(attempt.percentage)
    values = {
        "sid": subject_id,
        "student": student_id,
        "attempts": 0 if attempt is None else 1,
        "points": points,
        "chat_at": chat_at,
        "quiz_at": None if attempt is None else attempt.created_at,
    }
    await db.execute(PAIR_REPLY[_dialect_name(db)], values)
    if attempt is not None:
        await _add_to_subject(db, subject_id, attempts=1, points=points)


async def chat_touched(db: Executor, session_id: str) -> None:
    """After a chat session was created or its last_active moved forward: its owner's last
    chat activity in its subject becomes the later of the stored one and the session's."""
    await db.execute(PAIR_CHAT[_dialect_name(db)], {"session": session_id})


async def session_deleted(db: Executor, student_id: uuid.UUID | str, subject_id: str) -> None:
    """After one of the student's chat sessions in the subject was deleted: the last chat
    activity is recomputed from the sessions that remain (a few rows, by index)."""
    values = {"sid": subject_id, "student": uuid.UUID(str(student_id))}
    if _dialect_name(db) == "postgresql":
        # Wait for concurrent touches of this row to commit, so that the recomputation below
        # (a new snapshot under READ COMMITTED) sees their sessions.
        await db.execute(PAIR_LOCK, values)
    await db.execute(PAIR_CHAT_RECOMPUTED, values)


async def user_deleting(db: Executor, user_id: uuid.UUID) -> None:
    """Before a user is deleted: the subjects' totals lose that user's share (the user's own
    rows, enrollments, sessions and attempts then go by ON DELETE CASCADE)."""
    if _dialect_name(db) == "postgresql":
        # New attempts and enrollments reference the user row (a KEY SHARE lock): holding it
        # FOR UPDATE waits for those in flight to commit and keeps new ones out.
        await db.execute(USER_LOCK, {"student": user_id})
        await db.execute(USER_SUBJECTS_LOCK, {"student": user_id})
    await db.execute(USER_SHARE_REMOVED, {"student": user_id})
