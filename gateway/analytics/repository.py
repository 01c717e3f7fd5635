"""Every read statement of the analytics domain: the maintained aggregates, read by index.

The summary is one row of subject_stats plus an index range count of the active students (the
one figure that depends on the clock: enrolled students whose last activity is recent); a page
of progress is one index range of subject_student_stats in username order."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections import defaultdict
from collections.abc import Collection
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    SQLColumnExpression,
    String,
    Uuid,
    bindparam,
    column,
    func,
    literal,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from gateway.analytics.aggregates import STUDENT, SUBJECT, Executor
from gateway.analytics.models import StudentStats, SubjectStats
from gateway.db import UTCDateTime
from gateway.statements import Statement
from gateway.subjects.models import Enrollment, Subject
from gateway.users.models import User


def stored_student_count(subject_id: SQLColumnExpression[str]) -> Any:
    """The enrolled-student count of the subject `subject_id` (a correlated column), 0 when
    the subject has no row yet: one primary-key probe instead of counting enrollments."""
    stored = select(SUBJECT.c.enrolled_count).where(SUBJECT.c.subject_id == subject_id)
    return func.coalesce(stored.scalar_subquery(), 0)


async def student_counts(db: Executor, subject_ids: set[str]) -> dict[str, int]:
    """Enrolled-student counts of several subjects (subjects without a row are left out)."""
    if not subject_ids:
        return {}
    rows = await db.execute(
        select(SUBJECT.c.subject_id, SUBJECT.c.enrolled_count).where(
            SUBJECT.c.subject_id.in_(subject_ids), SUBJECT.c.enrolled_count > 0
        )
    )
    return {sid: int(count) for sid, count in rows}


def _active_count(sid: ColumnElement[str]) -> Any:
    """The index range count of the students of `sid` (a bound parameter, or a column of the
    enclosing FROM) active since the bound `since`."""
    return (
        select(func.count())
        .where(
            STUDENT.c.subject_id == sid,
            STUDENT.c.enrolled == true(),
            STUDENT.c.last_activity_at >= bindparam("since", type_=UTCDateTime()),
        )
        .scalar_subquery()
    )


def _summary_statement() -> Select[Any]:
    sid = bindparam("sid", type_=String())
    # One row even when the subject has no stored row yet (nobody enrolled or took a quiz).
    one = select(literal(1).label("one")).subquery("one")
    return select(
        func.coalesce(SUBJECT.c.enrolled_count, 0).label("enrolled"),
        _active_count(sid).label("active"),
        func.coalesce(SUBJECT.c.attempt_count, 0).label("attempts"),
        func.coalesce(SUBJECT.c.percentage_hundredths, 0).label("points"),
    ).select_from(one.outerjoin(SUBJECT, SUBJECT.c.subject_id == sid))


class JsonTexts(FunctionElement[str]):
    """The strings of a JSON array (one bound parameter), one row each in a column `value`:
    json_each on SQLite, json_array_elements_text on PostgreSQL. A list of keys bound as one
    parameter keeps a statement built once and prepared once whatever the number of keys (an
    expanding IN renders anew per length, which the statement runner does not take)."""

    name = "json_texts"
    inherit_cache = True


@compiles(JsonTexts)
def _json_each(element: JsonTexts, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_each({compiler.process(element.clauses, **kw)})"


@compiles(JsonTexts, "postgresql")
def _json_array_elements_text(element: JsonTexts, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_array_elements_text(CAST({compiler.process(element.clauses, **kw)} AS JSON))"


def _summaries_statement() -> Select[Any]:
    ids = JsonTexts(bindparam("sids", type_=String())).table_valued(
        column("value", String()), name="ids"
    )
    sid: ColumnElement[str] = ids.c.value

    def stored(figure: Any) -> Any:
        # A correlated primary-key probe per id, not a join: PostgreSQL may plan a join of the
        # ids with subject_stats as a hash join over the whole table; a subquery in the select
        # list runs per row of ids, so the statement reads O(ids) rows whatever the table holds.
        probe = select(figure).where(SUBJECT.c.subject_id == sid).scalar_subquery()
        return func.coalesce(probe, 0)

    # summary_statement's figures, one row per id (zeros for a subject without a stored row).
    return select(
        sid.label("subject_id"),
        stored(SUBJECT.c.enrolled_count).label("enrolled"),
        _active_count(sid).label("active"),
        stored(SUBJECT.c.attempt_count).label("attempts"),
        stored(SUBJECT.c.percentage_hundredths).label("points"),
    ).select_from(ids)


# Built once, with bound parameters, and run by gateway.statements (prepared on the driver on
# PostgreSQL): building and cache-keying statements per request costs more than running them.
_SINCE_SAMPLE = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
SUMMARY = Statement(
    _summary_statement(),
    name="analytics.summary",
    sample={"sid": SubjectStats.subject_id, "since": _SINCE_SAMPLE},
)
SUMMARIES = Statement(
    _summaries_statement(),
    name="analytics.summaries",
    # Seeded subjects (gateway/seed.py) and one that does not exist.
    sample={"sids": json.dumps(["INF001", "INF002", "MAT101", "NOPE"]), "since": _SINCE_SAMPLE},
)

Figures = tuple[int, int, int, int]


async def summary_row(db: Executor, subject_id: str, since: dt.datetime) -> Figures:
    """(enrolled, active since `since`, attempts, percentage sum in hundredths)."""
    row = (await SUMMARY.all(db, sid=subject_id, since=since))[0]
    return int(row[0]), int(row[1]), int(row[2]), int(row[3])


async def summary_rows(
    db: Executor, subject_ids: Collection[str], since: dt.datetime
) -> dict[str, Figures]:
    """summary_row's figures for several subjects in one statement, by subject id (every id
    present: zeros for a subject without a stored row)."""
    if not subject_ids:
        return {}
    rows = await SUMMARIES.all(db, sids=json.dumps(sorted(set(subject_ids))), since=since)
    return {sid: (int(e), int(a), int(n), int(p)) for sid, e, a, n, p in rows}


PROGRESS = Statement(
    select(
        STUDENT.c.username,
        STUDENT.c.attempt_count,
        STUDENT.c.percentage_hundredths,
        STUDENT.c.last_activity_at,
    )
    .where(
        STUDENT.c.subject_id == bindparam("sid", type_=String()),
        STUDENT.c.enrolled == true(),
        # Keyset: GraphQL pages after a username (its cursor), REST after "" with an offset.
        STUDENT.c.username > bindparam("after", type_=String()),
    )
    .order_by(STUDENT.c.username)
    .limit(bindparam("limit", type_=Integer()))
    .offset(bindparam("skip", type_=Integer())),
    name="analytics.progress_page",
    sample={"sid": StudentStats.subject_id, "limit": 100, "skip": 0, "after": ""},
)


async def progress_rows(
    db: Executor, subject_id: str, *, limit: int, skip: int, after: str
) -> list[tuple[str, int, int, dt.datetime | None]]:
    rows = await PROGRESS.all(db, sid=subject_id, limit=limit, skip=skip, after=after)
    return [(name, int(n), int(points), last) for name, n, points, last in rows]


PROGRESS_OF_STUDENT = Statement(
    select(
        STUDENT.c.username,
        STUDENT.c.attempt_count,
        STUDENT.c.percentage_hundredths,
        STUDENT.c.last_activity_at,
    ).where(
        STUDENT.c.subject_id == bindparam("sid", type_=String()),
        STUDENT.c.student_id == bindparam("student", type_=Uuid()),
        STUDENT.c.enrolled == true(),
    ),
    name="analytics.progress_of_student",
    sample={"sid": StudentStats.subject_id, "student": StudentStats.student_id},
)


async def progress_row_of(
    db: Executor, subject_id: str, student_id: uuid.UUID
) -> tuple[str, int, int, dt.datetime | None] | None:
    """One enrolled student's row (a primary-key read); None when not enrolled."""
    row = await PROGRESS_OF_STUDENT.one_or_none(db, sid=subject_id, student=student_id)
    return None if row is None else (row[0], int(row[1]), int(row[2]), row[3])


async def students_page(
    db: AsyncSession,
    *,
    teacher_id: uuid.UUID | None,
    subject_id: str | None,
    limit: int,
    skip: int,
    after: str | None,
) -> tuple[list[User], dict[uuid.UUID, list[str]]]:
    """Students enrolled in the subjects of `teacher_id` (every subject when None), or in
    `subject_id` only, by username after `after`; and each one's codes among those subjects."""
    visible: ColumnElement[bool] = (
        Enrollment.subject_id.is_not(None)
        if teacher_id is None
        else Enrollment.subject_id.in_(select(Subject.id).where(Subject.professor_id == teacher_id))
    )
    wanted = visible if subject_id is None else Enrollment.subject_id == subject_id
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
    return page, codes
