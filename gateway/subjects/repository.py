"""Every statement about subjects and enrollment, and the one way a subject row becomes a
SubjectView.

Reads select columns, not ORM entities, are built once at module level (per shape, paged and
filtered by bound parameters) and run as Core on the session's connection: building a select
and computing its cache key cost more CPU than running it from the compiled cache."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Integer, Select, String, bindparam, delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from gateway.analytics import repository as analytics
from gateway.db import utcnow
from gateway.statements import Statement
from gateway.subjects.models import Enrollment, Subject
from gateway.subjects.schemas import SubjectRow, SubjectView
from gateway.users import repository as user_rows
from gateway.users.models import User
from gateway.users.schemas import UserView

Professor = aliased(User, name="professor")

SUBJECT_COLUMNS = (
    Subject.id,
    Subject.name,
    Subject.description,
    Subject.guide,
    Subject.professor_id,
    Professor.username.label("professor_username"),
    Subject.created_at,
)
_VIEW_KEYS = tuple(c.key for c in SUBJECT_COLUMNS)
_PROFESSOR_COLUMNS = tuple(
    getattr(Professor, c.key).label(f"prof_{c.key}") for c in user_rows.PROFILE_COLUMNS
)
_STUDENT_COUNT = analytics.stored_student_count(Subject.id).label("student_count")


def subject_view(data: Mapping[Any, Any]) -> SubjectView:
    """The one SubjectView mapper: a row of SUBJECT_COLUMNS."""
    return SubjectView.model_construct(**{k: data[k] for k in _VIEW_KEYS})


def _subject_rows(with_professor: bool, with_count: bool) -> Select[tuple[object, ...]]:
    """Subject columns, plus the professor's profile and the enrollment count when asked."""
    columns = SUBJECT_COLUMNS + (_PROFESSOR_COLUMNS if with_professor else ())
    columns += (_STUDENT_COUNT,) if with_count else ()
    return select(*columns).outerjoin(Professor, Professor.id == Subject.professor_id)


def _row(data: Mapping[Any, Any], with_professor: bool, with_count: bool) -> SubjectRow:
    view = subject_view(data)
    professor: UserView | None = None
    if with_professor and view.professor_id is not None:
        professor = user_rows.user_view(data, prefix="prof_", with_subjects=False)
    count = int(data["student_count"]) if with_count else None
    return SubjectRow(view, professor, count)


def _catalogue(with_professor: bool, with_count: bool) -> Select[tuple[object, ...]]:
    return (
        _subject_rows(with_professor, with_count)
        # Keyset: GraphQL pages after a code (its cursor), REST after "" with an offset.
        .where(Subject.id > bindparam("after", type_=String()))
        .order_by(Subject.id)
        .limit(bindparam("limit", type_=Integer()))
        .offset(bindparam("skip", type_=Integer()))
    )


# One per look-ahead shape (professor asked or not, studentCount asked or not).
_CATALOGUE = {(p, c): _catalogue(p, c) for p in (False, True) for c in (False, True)}
_PAGE_SAMPLE = {"after": "", "limit": 50, "skip": 0}
# The unfiltered pages (the hot ones) on the statement runner; filters add clauses per call.
_CATALOGUE_PAGES = {
    (p, c): Statement(
        select_, name=f"subjects.catalogue[professor={p},count={c}]", sample=_PAGE_SAMPLE
    )
    for (p, c), select_ in _CATALOGUE.items()
}
_ONE_WITH_COUNT = Statement(
    _subject_rows(False, True).where(Subject.id == bindparam("subject_id", type_=String())),
    name="subjects.one_with_count",
    sample={"subject_id": Subject.id},
)
_ONE = Statement(
    _subject_rows(False, False).where(Subject.id == bindparam("subject_id", type_=String())),
    name="subjects.one",
    sample={"subject_id": Subject.id},
)
_BY_ID = _subject_rows(False, False).where(Subject.id.in_(bindparam("subject_ids", expanding=True)))
_ENROLLED_BY = (
    _subject_rows(False, False)
    .join(Enrollment, Enrollment.subject_id == Subject.id)
    .where(Enrollment.student_id == bindparam("student_id"))
    .order_by(Subject.id)
)
_LINKS = user_rows.subject_links_of_users()
_OF_USERS = (
    _subject_rows(False, False)
    .add_columns(_LINKS.c.user_id)
    .join(_LINKS, _LINKS.c.subject_id == Subject.id)
    .order_by(_LINKS.c.user_id, Subject.id)
)
_ENROLLED_AMONG = select(Enrollment.subject_id).where(
    Enrollment.student_id == bindparam("student_id"),
    Enrollment.subject_id.in_(bindparam("subject_ids", expanding=True)),
)


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# --- reads ------------------------------------------------------------------------------------


async def catalogue(
    db: AsyncSession,
    *,
    professor_id: uuid.UUID | None = None,
    professor_username: str | None = None,
    name_contains: str | None = None,
    limit: int,
    skip: int,
    after: str,
    with_professor: bool,
    with_count: bool,
) -> list[SubjectRow]:
    """A page of the catalogue by code; with_professor and with_count add the professors and
    enrollment counts to the same statement."""
    params = {"limit": limit, "skip": skip, "after": after}
    if professor_id is None and professor_username is None and not name_contains:
        page = await _CATALOGUE_PAGES[(with_professor, with_count)].all(db, **params)
        return [_row(row._asdict(), with_professor, with_count) for row in page]
    query = _CATALOGUE[(with_professor, with_count)]
    if professor_id is not None:
        query = query.where(Subject.professor_id == professor_id)
    elif professor_username is not None:
        query = query.where(Professor.username == professor_username)
    if name_contains:
        query = query.where(Subject.name.ilike(f"%{escape_like(name_contains)}%", escape="\\"))
    conn = await db.connection()
    rows = await conn.execute(query, params)
    return [_row(row._mapping, with_professor, with_count) for row in rows]


async def row_with_count(db: AsyncSession, subject_id: str) -> SubjectRow | None:
    row = await _ONE_WITH_COUNT.one_or_none(db, subject_id=subject_id)
    return None if row is None else _row(row._asdict(), False, True)


async def view_by_id(db: AsyncSession, subject_id: str) -> SubjectView | None:
    row = await _ONE.one_or_none(db, subject_id=subject_id)
    return None if row is None else subject_view(row._asdict())


async def views_by_id(db: AsyncSession, subject_ids: Iterable[str]) -> dict[str, SubjectView]:
    ids = list(set(subject_ids))
    if not ids:
        return {}
    conn = await db.connection()
    rows = await conn.execute(_BY_ID, {"subject_ids": ids})
    return {row.id: subject_view(row._mapping) for row in rows}


async def enrolled_by(db: AsyncSession, student_id: uuid.UUID) -> list[SubjectView]:
    conn = await db.connection()
    rows = await conn.execute(_ENROLLED_BY, {"student_id": student_id})
    return [subject_view(row._mapping) for row in rows]


async def of_users(
    db: AsyncSession, user_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[SubjectView]]:
    """Subjects each user is enrolled in or teaches (users.repository.subject_links): one
    statement."""
    ids = list(set(user_ids))
    if not ids:
        return {}
    conn = await db.connection()
    found: dict[uuid.UUID, dict[str, SubjectView]] = defaultdict(dict)
    for row in await conn.execute(_OF_USERS, {"user_ids": ids}):
        found[row.user_id].setdefault(row.id, subject_view(row._mapping))
    return {user_id: list(views.values()) for user_id, views in found.items()}


async def enrolled_among(
    db: AsyncSession, student_id: uuid.UUID, subject_ids: Iterable[str]
) -> set[str]:
    ids = list(set(subject_ids))
    if not ids:
        return set()
    conn = await db.connection()
    found = await conn.execute(_ENROLLED_AMONG, {"student_id": student_id, "subject_ids": ids})
    return {sid for (sid,) in found}


async def students_pages(
    db: AsyncSession, subject_ids: Iterable[str], *, limit: int, after: str
) -> dict[str, list[UserView]]:
    """Enrolled students (with their subjects) by username after `after`, at most `limit` per
    subject, for many subjects: one window-function statement."""
    ranked = (
        select(
            Enrollment.subject_id,
            Enrollment.student_id,
            func.row_number()
            .over(partition_by=Enrollment.subject_id, order_by=User.username)
            .label("rn"),
        )
        .join(User, User.id == Enrollment.student_id)
        .where(Enrollment.subject_id.in_(list(subject_ids)), User.username > after)
        .subquery()
    )
    query = (
        user_rows.PROFILES.add_columns(ranked.c.subject_id.label("page_subject_id"))
        .join_from(User, ranked, ranked.c.student_id == User.id)
        .where(ranked.c.rn <= limit)
        .order_by(ranked.c.subject_id, ranked.c.rn)
    )
    found: dict[str, list[UserView]] = defaultdict(list)
    conn = await db.connection()
    for row in await conn.execute(query):
        found[row.page_subject_id].append(user_rows.user_view(row._mapping))
    return found


async def entity(db: AsyncSession, subject_id: str) -> Subject | None:
    """The subject as an ORM entity, for an edit."""
    return await db.get(Subject, subject_id)


# --- writes -----------------------------------------------------------------------------------


async def add(db: AsyncSession, subject: Subject) -> None:
    """Inserts now (a concurrent create with the same code raises IntegrityError here)."""
    db.add(subject)
    await db.flush()


async def save(db: AsyncSession) -> None:
    await db.flush()


async def remove(db: AsyncSession, subject_id: str) -> bool:
    """Deletes the subject (its enrollments, sessions and attempts cascade); False if none."""
    deleted = await db.scalar(delete(Subject).where(Subject.id == subject_id).returning(Subject.id))
    return deleted is not None


async def add_enrollment(db: AsyncSession, student_id: uuid.UUID, subject_id: str) -> bool:
    """Enrolls; False when the enrollment exists already (ON CONFLICT DO NOTHING: one row per
    (student, subject) under any race). IntegrityError when the subject is gone."""
    insert = pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(Enrollment)
        .values(student_id=student_id, subject_id=subject_id, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["student_id", "subject_id"])
        .returning(Enrollment.subject_id)
    )
    return await db.scalar(statement) is not None


async def remove_enrollment(db: AsyncSession, student_id: uuid.UUID, subject_id: str) -> bool:
    removed = await db.scalar(
        delete(Enrollment)
        .where(Enrollment.student_id == student_id, Enrollment.subject_id == subject_id)
        .returning(Enrollment.subject_id)
    )
    return removed is not None
