"""Every rule about subjects and enrollment: who may create, edit, delete, enroll, and what is
validated. Deleting a subject deletes its enrollments, chat sessions (with their messages) and
quiz attempts through ON DELETE CASCADE in the schema."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Integer, Row, Select, String, bindparam, delete, func, select, union
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from gateway.analytics import aggregates
from gateway.analytics import repository as analytics
from gateway.auth.actor import Actor, require_actor, require_role
from gateway.db import utcnow
from gateway.errors import (
    AlreadyEnrolled,
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
)
from gateway.policy import MAX_SEARCH_CHARS
from gateway.subjects.models import Enrollment, Subject
from gateway.subjects.schemas import SubjectCreate, SubjectUpdate, SubjectView
from gateway.users import service as users
from gateway.users.models import Role, User
from gateway.users.schemas import UserView

NOT_OWNER = "Not this subject's professor"

Professor = aliased(User, name="professor")


async def get_subject(db: AsyncSession, subject_id: str) -> Subject:
    subject = await db.get(Subject, subject_id)
    if subject is None:
        raise NotFound("Subject not found")
    return subject


def teaches(actor: Actor, professor_id: uuid.UUID | None) -> bool:
    """Whether the caller is the subject's professor: assigned to it AND still a PROFESSOR.

    The one statement of this rule, for every path on both faces. A demotion keeps the
    assignment (re-promotion restores it; an admin reassigns explicitly), but the assignment
    alone grants nothing: the role is read from the database on every request."""
    return actor.role is Role.PROFESSOR and professor_id is not None and professor_id == actor.id


def check_chat_access(actor: Actor, *, professor_id: uuid.UUID | None, enrolled: bool) -> None:
    """Who may talk to the tutor about a subject: its enrolled students, its professor, admins.
    The one statement of this rule; callers fetch `professor_id` and `enrolled` as they like."""
    if actor.role is Role.ADMIN or teaches(actor, professor_id):
        return
    if actor.role is Role.STUDENT and enrolled:
        return
    raise Forbidden("Not enrolled in subject")


def require_staff(actor: Actor | None, professor_id: uuid.UUID | None) -> Actor:
    """A subject's students and analytics: its own professor and admins only."""
    actor = require_actor(actor)
    if actor.role is not Role.ADMIN and not teaches(actor, professor_id):
        raise Forbidden(NOT_OWNER)
    return actor


# --- reading ---------------------------------------------------------------------------------


def _views() -> Select[Subject, str]:
    return select(Subject, Professor.username).outerjoin(
        Professor, Professor.id == Subject.professor_id
    )


def _view(subject: Subject, professor_username: str | None) -> SubjectView:
    return SubjectView(
        id=subject.id,
        name=subject.name,
        description=subject.description,
        guide=subject.guide,
        professor_id=subject.professor_id,
        professor_username=professor_username,
        created_at=subject.created_at,
    )


async def _one_view(db: AsyncSession, subject_id: str) -> SubjectView:
    row = (await db.execute(_views().where(Subject.id == subject_id))).one_or_none()
    if row is None:
        raise NotFound("Subject not found")
    return _view(*row)


async def subjects_by_id(db: AsyncSession, subject_ids: Iterable[str]) -> dict[str, SubjectView]:
    """Several subjects at once (a DataLoader batch): one statement."""
    ids = list(set(subject_ids))
    if not ids:
        return {}
    rows = await db.execute(_views().where(Subject.id.in_(ids)))
    return {subject.id: _view(subject, username) for subject, username in rows}


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True, slots=True)
class SubjectRow:
    """A catalogue row; professor and student_count only when the caller asked for them."""

    view: SubjectView
    professor: UserView | None = None
    student_count: int | None = None


_SUBJECT_COLUMNS = (
    Subject.id,
    Subject.name,
    Subject.description,
    Subject.guide,
    Subject.professor_id,
    Professor.username.label("professor_username"),
    Subject.created_at,
)
_PROFESSOR_COLUMNS = tuple(
    getattr(Professor, c.key).label(f"prof_{c.key}") for c in users.PROFILE_COLUMNS
)
_STUDENT_COUNT = analytics.stored_student_count(Subject.id).label("student_count")


def _subject_rows(with_professor: bool, with_count: bool) -> Select[tuple[object, ...]]:
    """Subject columns (read by _row), plus the professor's profile and the enrollment count."""
    columns = _SUBJECT_COLUMNS + (_PROFESSOR_COLUMNS if with_professor else ())
    columns += (_STUDENT_COUNT,) if with_count else ()
    return select(*columns).outerjoin(Professor, Professor.id == Subject.professor_id)


def _catalogue(with_professor: bool, with_count: bool) -> Select[tuple[object, ...]]:
    return (
        _subject_rows(with_professor, with_count)
        # Keyset: GraphQL pages after a code (its cursor), REST after "" with an offset.
        .where(Subject.id > bindparam("after", type_=String()))
        .order_by(Subject.id)
        .limit(bindparam("limit", type_=Integer()))
        .offset(bindparam("skip", type_=Integer()))
    )


# Built once per shape, paged by bound parameters: building a select (or a new one with other
# LIMIT values) and computing its cache key costs more CPU than running it from the cache.
_CATALOGUE = {(p, c): _catalogue(p, c) for p in (False, True) for c in (False, True)}
_VIEW_KEYS = tuple(c.key for c in _SUBJECT_COLUMNS)
_PROFESSOR_KEYS = tuple(c.key for c in users.PROFILE_COLUMNS)


def _row(row: Row[tuple[object, ...]], with_professor: bool, with_count: bool) -> SubjectRow:
    data = row._mapping
    view = SubjectView.model_construct(**{k: data[k] for k in _VIEW_KEYS})
    professor = None
    if with_professor and view.professor_id is not None:
        fields = {k: data[f"prof_{k}"] for k in _PROFESSOR_KEYS}
        professor = UserView.model_validate(fields)
    count = int(data["student_count"]) if with_count else None
    return SubjectRow(view, professor, count)


async def list_subject_rows(
    db: AsyncSession,
    actor: Actor | None,
    *,
    professor: str | uuid.UUID | None = None,
    search: str | None = None,
    limit: int,
    skip: int = 0,
    after: str = "",
    with_professor: bool = False,
    with_count: bool = False,
) -> list[SubjectRow]:
    """The catalogue, ordered by code; any signed-in user may browse it. With with_professor
    and with_count the page's professors and enrollment counts come in the same statement.
    `professor`: a username or a user id; `after`: only codes after this one (keyset)."""
    require_actor(actor)
    query = _CATALOGUE[(with_professor, with_count)]
    if isinstance(professor, uuid.UUID):
        query = query.where(Subject.professor_id == professor)
    elif professor is not None:
        query = query.where(Professor.username == professor.strip().lower())
    if search:
        if len(search) > MAX_SEARCH_CHARS or "\x00" in search:
            raise InvalidInput(f"search must be at most {MAX_SEARCH_CHARS} characters")
        query = query.where(Subject.name.ilike(f"%{escape_like(search)}%", escape="\\"))
    # Plain columns: Core execution on the session's connection skips the ORM result layer.
    conn = await db.connection()
    rows = await conn.execute(query, {"limit": limit, "skip": skip, "after": after})
    return [_row(row, with_professor, with_count) for row in rows]


_ONE_WITH_COUNT = _subject_rows(False, True).where(
    Subject.id == bindparam("subject_id", type_=String())
)


async def get_subject_row(db: AsyncSession, actor: Actor | None, subject_id: str) -> SubjectRow:
    """One subject with its enrollment count, in one statement."""
    require_actor(actor)
    conn = await db.connection()
    row = (await conn.execute(_ONE_WITH_COUNT, {"subject_id": subject_id})).one_or_none()
    if row is None:
        raise NotFound("Subject not found")
    return _row(row, False, True)


async def get_subject_views(
    db: AsyncSession, actor: Actor | None, subject_ids: Sequence[str]
) -> list[SubjectView | DomainError]:
    """Several subjects by code in one statement (GraphQL `subject` and `node` batches): per
    code its view, or NotFound."""
    require_actor(actor)
    found = await subjects_by_id(db, [s for s in subject_ids if "\x00" not in s])
    return [found.get(sid) or NotFound("Subject not found") for sid in subject_ids]


async def enrolled_subjects(db: AsyncSession, actor: Actor | None) -> list[SubjectView]:
    """The subjects the caller is enrolled in (empty for professors and admins)."""
    actor = require_actor(actor)
    query = (
        _views()
        .join(Enrollment, Enrollment.subject_id == Subject.id)
        .where(Enrollment.student_id == actor.id)
        .order_by(Subject.id)
    )
    return [_view(*row) for row in await db.execute(query)]


async def student_counts(db: AsyncSession, subject_ids: Iterable[str]) -> dict[str, int]:
    return await analytics.student_counts(db, set(subject_ids))


async def enrolled_among(
    db: AsyncSession, actor: Actor | None, subject_ids: Iterable[str]
) -> set[str]:
    """Which of these subjects the caller is enrolled in."""
    ids = list(set(subject_ids))
    if actor is None or not ids:
        return set()
    found = await db.scalars(
        select(Enrollment.subject_id).where(
            Enrollment.student_id == actor.id, Enrollment.subject_id.in_(ids)
        )
    )
    return set(found)


async def users_by_id(db: AsyncSession, user_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, UserView]:
    """Users by id WITHOUT their subject codes (`subjects` is empty): one statement of the
    profile columns; callers that need the codes use users.subject_codes."""
    ids = list(set(user_ids))
    if not ids:
        return {}
    rows = await db.execute(select(*users.PROFILE_COLUMNS).where(User.id.in_(ids)))
    return {row.id: UserView.model_validate(row._asdict()) for row in rows}


async def subjects_of_users(
    db: AsyncSession, user_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[SubjectView]]:
    """Subjects each user is enrolled in or teaches, in one statement."""
    ids = list(set(user_ids))
    if not ids:
        return {}
    links = union(
        select(Enrollment.student_id.label("uid"), Enrollment.subject_id.label("sid")).where(
            Enrollment.student_id.in_(ids)
        ),
        select(Subject.professor_id.label("uid"), Subject.id.label("sid")).where(
            Subject.professor_id.in_(ids)
        ),
    ).subquery()
    query = (
        _views()
        .add_columns(links.c.uid)
        .join(links, links.c.sid == Subject.id)
        .order_by(links.c.uid, Subject.id)
    )
    found: dict[uuid.UUID, list[SubjectView]] = defaultdict(list)
    for subject, professor_username, uid in await db.execute(query):
        found[uid].append(_view(subject, professor_username))
    return found


async def students_of_subjects(
    db: AsyncSession, keys: Sequence[tuple[str, int, str]]
) -> dict[tuple[str, int, str], list[UserView]]:
    """Pages of enrolled students (by username, after a username: keyset) for many subjects:
    one window-function statement per distinct (limit, after), whatever the number of subjects.
    Callers check require_staff."""
    result: dict[tuple[str, int, str], list[UserView]] = {key: [] for key in keys}
    windows: dict[tuple[int, str], set[str]] = defaultdict(set)
    for sid, limit, after in keys:
        windows[(limit, after)].add(sid)
    for (limit, after), sids in windows.items():
        ranked = (
            select(
                Enrollment.subject_id,
                Enrollment.student_id,
                func.row_number()
                .over(partition_by=Enrollment.subject_id, order_by=User.username)
                .label("rn"),
            )
            .join(User, User.id == Enrollment.student_id)
            .where(Enrollment.subject_id.in_(sids), User.username > after)
            .subquery()
        )
        rows = (
            await db.execute(
                select(ranked.c.subject_id, User)
                .join(User, User.id == ranked.c.student_id)
                .where(ranked.c.rn <= limit)
                .order_by(ranked.c.subject_id, ranked.c.rn)
            )
        ).all()
        views = {v.id: v for v in await users.views(db, [user for _, user in rows])}
        for sid, user in rows:
            result[(sid, limit, after)].append(views[user.id])
    return result


# --- writing ---------------------------------------------------------------------------------


async def _professor(db: AsyncSession, username: str) -> User:
    user = await users.by_username(db, username)
    if user is None:
        raise NotFound("Professor not found")
    if user.role != Role.PROFESSOR.value:
        raise InvalidInput("User is not a professor")
    return user


async def create_subject(db: AsyncSession, actor: Actor | None, data: SubjectCreate) -> SubjectView:
    require_role(actor, Role.ADMIN, detail="Insufficient permissions (not admin)")
    if await db.get(Subject, data.subject_id) is not None:
        raise Conflict("Subject already exists")
    professor = await _professor(db, data.professor_id) if data.professor_id else None
    subject = Subject(
        id=data.subject_id,
        name=data.name,
        description=data.description,
        guide=data.guide,
        professor_id=professor.id if professor else None,
    )
    db.add(subject)
    try:
        await db.flush()
    except IntegrityError as exc:  # lost a race with a concurrent create
        raise Conflict("Subject already exists") from exc
    return _view(subject, professor.username if professor else None)


async def update_subject(
    db: AsyncSession, actor: Actor | None, subject_id: str, changes: SubjectUpdate
) -> SubjectView:
    """Admins edit any subject; a professor edits their own but cannot hand it to someone else."""
    actor = require_role(actor, Role.PROFESSOR, Role.ADMIN)
    subject = await get_subject(db, subject_id)
    if not actor.is_admin and not teaches(actor, subject.professor_id):
        raise Forbidden(NOT_OWNER)
    if changes.professor_id is not None:
        if not actor.is_admin:
            if changes.professor_id != actor.username:
                raise Forbidden("Only an admin can reassign a subject")
        else:
            subject.professor_id = (await _professor(db, changes.professor_id)).id
    if changes.name is not None:
        subject.name = changes.name
    if changes.description is not None:
        subject.description = changes.description
    if changes.guide is not None:
        subject.guide = changes.guide
    await db.flush()
    return await _one_view(db, subject_id)


async def delete_subject(db: AsyncSession, actor: Actor | None, subject_id: str) -> None:
    require_role(actor, Role.ADMIN, detail="Insufficient permissions (not admin)")
    deleted = await db.scalar(delete(Subject).where(Subject.id == subject_id).returning(Subject.id))
    if deleted is None:
        raise NotFound("Subject not found")


def _require_student(actor: Actor | None) -> Actor:
    actor = require_actor(actor)
    if actor.role is not Role.STUDENT:
        raise InvalidInput("Student role required")
    return actor


async def enroll(db: AsyncSession, actor: Actor | None, subject_id: str) -> SubjectView:
    """Idempotent under races: the primary key (student, subject) admits one row; a concurrent
    duplicate does nothing and is reported as AlreadyEnrolled, never as a 500."""
    actor = _require_student(actor)
    view = await _one_view(db, subject_id)
    insert = pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(Enrollment)
        .values(student_id=actor.id, subject_id=subject_id, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["student_id", "subject_id"])
        .returning(Enrollment.subject_id)
    )
    try:
        inserted = await db.scalar(statement)
    except IntegrityError as exc:  # the subject was deleted in between
        raise NotFound("Subject not found") from exc
    if inserted is None:
        raise AlreadyEnrolled("Student already enrolled")
    await aggregates.enrolled(db, actor.id, subject_id)
    return view


async def unenroll(db: AsyncSession, actor: Actor | None, subject_id: str) -> SubjectView:
    """Removes the enrollment; the student's sessions and quiz history in the subject stay."""
    actor = _require_student(actor)
    view = await _one_view(db, subject_id)
    removed = await db.scalar(
        delete(Enrollment)
        .where(Enrollment.student_id == actor.id, Enrollment.subject_id == subject_id)
        .returning(Enrollment.subject_id)
    )
    if removed is None:
        raise NotFound("Not enrolled in subject")
    await aggregates.unenrolled(db, actor.id, subject_id)
    return view
