"""Recomputing the aggregates from the base tables: `gateway check-aggregates [--repair]`.

The expected figures are computed set-based from enrollments, quiz attempts and chat sessions
(the same definitions as migration 0004's backfill), compared with the stored rows, and with
--repair the stored rows are replaced by the expected ones. A stored row whose every figure is
empty (not enrolled, no attempt, no chat) equals a missing one."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Select,
    Table,
    and_,
    delete,
    exists,
    func,
    insert,
    select,
    text,
    union,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.analytics.aggregates import STUDENT, SUBJECT, later
from gateway.sessions.models import ChatSession, QuizAttempt
from gateway.subjects.models import Enrollment
from gateway.users.models import User

ATTEMPTS = cast(Table, QuizAttempt.__table__)
SESSIONS = cast(Table, ChatSession.__table__)
ENROLLMENTS = cast(Table, Enrollment.__table__)
USERS = cast(Table, User.__table__)

STUDENT_COLUMNS = [
    "subject_id",
    "student_id",
    "username",
    "enrolled",
    "attempt_count",
    "percentage_hundredths",
    "last_quiz_at",
    "last_chat_at",
    "last_activity_at",
]
SUBJECT_COLUMNS = ["subject_id", "enrolled_count", "attempt_count", "percentage_hundredths"]


def _points() -> Any:
    return func.sum(sql_cast(func.round(ATTEMPTS.c.percentage * 100), BigInteger))


def expected_students() -> Select[Any]:
    pairs = union(
        select(ENROLLMENTS.c.subject_id, ENROLLMENTS.c.student_id.label("user_id")),
        select(ATTEMPTS.c.subject_id, ATTEMPTS.c.user_id),
        select(SESSIONS.c.subject_id, SESSIONS.c.user_id),
    ).subquery("pairs")
    attempts = (
        select(
            ATTEMPTS.c.subject_id,
            ATTEMPTS.c.user_id,
            func.count().label("n"),
            _points().label("points"),
            func.max(ATTEMPTS.c.created_at).label("last_at"),
        )
        .group_by(ATTEMPTS.c.subject_id, ATTEMPTS.c.user_id)
        .subquery("attempts")
    )
    chats = (
        select(
            SESSIONS.c.subject_id,
            SESSIONS.c.user_id,
            func.max(SESSIONS.c.last_active).label("last_at"),
        )
        .group_by(SESSIONS.c.subject_id, SESSIONS.c.user_id)
        .subquery("chats")
    )
    enrolled = exists().where(
        ENROLLMENTS.c.subject_id == pairs.c.subject_id,
        ENROLLMENTS.c.student_id == pairs.c.user_id,
    )
    same = {
        t: and_(t.c.subject_id == pairs.c.subject_id, t.c.user_id == pairs.c.user_id)
        for t in (attempts, chats)
    }
    return (
        select(
            pairs.c.subject_id,
            pairs.c.user_id,
            USERS.c.username,
            enrolled,
            func.coalesce(attempts.c.n, 0),
            func.coalesce(attempts.c.points, 0),
            attempts.c.last_at,
            chats.c.last_at,
            later(attempts.c.last_at, chats.c.last_at),
        )
        .select_from(pairs)
        .join(USERS, USERS.c.id == pairs.c.user_id)
        .outerjoin(attempts, same[attempts])
        .outerjoin(chats, same[chats])
    )


def expected_subjects() -> Select[Any]:
    def per_subject(table: Table, *columns: Any) -> Any:
        return select(table.c.subject_id, *columns).group_by(table.c.subject_id)

    enrolled = per_subject(ENROLLMENTS, func.count().label("n")).subquery("enrolled")
    attempts = per_subject(ATTEMPTS, func.count().label("n"), _points().label("points")).subquery(
        "attempts"
    )
    ids = union(select(enrolled.c.subject_id), select(attempts.c.subject_id)).subquery("ids")
    return (
        select(
            ids.c.subject_id,
            func.coalesce(enrolled.c.n, 0),
            func.coalesce(attempts.c.n, 0),
            func.coalesce(attempts.c.points, 0),
        )
        .select_from(ids)
        .outerjoin(enrolled, enrolled.c.subject_id == ids.c.subject_id)
        .outerjoin(attempts, attempts.c.subject_id == ids.c.subject_id)
    )


@dataclass(frozen=True, slots=True)
class Difference:
    table: str
    key: tuple[str, ...]
    column: str
    stored: object
    expected: object

    def __str__(self) -> str:
        return (
            f"{self.table}{list(self.key)}.{self.column}: stored {self.stored!r}, "
            f"expected {self.expected!r}"
        )


def _normal(value: object) -> object:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC) if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return value


def _rows(rows: Any, columns: list[str], keys: int) -> dict[tuple[str, ...], dict[str, object]]:
    found: dict[tuple[str, ...], dict[str, object]] = {}
    for row in rows:
        values = dict(zip(columns, row, strict=True))
        if "enrolled" in values:
            values["enrolled"] = bool(values["enrolled"])
        key = tuple(str(values[c]) for c in columns[:keys])
        found[key] = {c: _normal(values[c]) for c in columns[keys:]}
    return found


def _empty(figures: dict[str, object]) -> bool:
    return all(v in (None, 0, False) for k, v in figures.items() if k != "username")


def _compare(
    table: str,
    stored: dict[tuple[str, ...], dict[str, object]],
    expected: dict[tuple[str, ...], dict[str, object]],
) -> list[Difference]:
    found: list[Difference] = []
    for key in sorted(stored.keys() | expected.keys()):
        have, want = stored.get(key), expected.get(key)
        if have is None or want is None:
            if (have is not None and _empty(have)) or (want is not None and _empty(want)):
                continue
            columns = list((have or want or {}).keys())
            found += [
                Difference(table, key, c, (have or {}).get(c), (want or {}).get(c))
                for c in columns
                if c != "username"
            ]
            continue
        found += [
            Difference(table, key, c, have[c], want[c]) for c in want if have.get(c) != want[c]
        ]
    return found


async def differences(db: AsyncSession) -> list[Difference]:
    """Every stored figure that differs from its recomputation from the base tables."""
    stored_subjects = await db.execute(select(*(SUBJECT.c[c] for c in SUBJECT_COLUMNS)))
    wanted_subjects = await db.execute(expected_subjects())
    stored_students = await db.execute(select(*(STUDENT.c[c] for c in STUDENT_COLUMNS)))
    wanted_students = await db.execute(expected_students())
    return _compare(
        "subject_stats",
        _rows(stored_subjects, SUBJECT_COLUMNS, 1),
        _rows(wanted_subjects, SUBJECT_COLUMNS, 1),
    ) + _compare(
        "subject_student_stats",
        _rows(stored_students, STUDENT_COLUMNS, 2),
        _rows(wanted_students, STUDENT_COLUMNS, 2),
    )


async def consistent_differences(db: AsyncSession) -> list[Difference]:
    """`differences` in one snapshot (REPEATABLE READ on PostgreSQL): stored and recomputed
    figures are read at the same instant, so concurrent writers cause no false difference.
    Must be the transaction's first statement."""
    if db.get_bind().dialect.name == "postgresql":
        await db.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
    return await differences(db)


async def repair(db: AsyncSession) -> None:
    """Replace every stored row by its recomputation, in the caller's transaction. On
    PostgreSQL the aggregate tables are locked first: writers in flight wait, and apply their
    own increment after this transaction commits, on top of figures that exclude it."""
    if db.get_bind().dialect.name == "postgresql":
        await db.execute(text("LOCK TABLE subject_stats, subject_student_stats IN EXCLUSIVE MODE"))
    await db.execute(delete(STUDENT))
    await db.execute(delete(SUBJECT))
    await db.execute(insert(STUDENT).from_select(STUDENT_COLUMNS, expected_students()))
    await db.execute(insert(SUBJECT).from_select(SUBJECT_COLUMNS, expected_subjects()))
