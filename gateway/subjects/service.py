"""Every rule about subjects and enrollment: who may create, edit, delete, enroll, and what is
validated. Deleting a subject deletes its enrollments, chat sessions (with their messages) and
quiz attempts through ON DELETE CASCADE in the schema. The statements are in
gateway.subjects.repository."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.analytics import aggregates
from gateway.analytics import repository as analytics
from gateway.auth.actor import Actor, require_actor, require_role
from gateway.errors import (
    AlreadyEnrolled,
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
)
from gateway.policy import MAX_SEARCH_CHARS
from gateway.subjects import repository
from gateway.subjects.models import Subject
from gateway.subjects.schemas import SubjectCreate, SubjectRow, SubjectUpdate, SubjectView
from gateway.users import service as users
from gateway.users.models import Role, User
from gateway.users.schemas import UserView

NOT_OWNER = "Not this subject's professor"
SUBJECT_NOT_FOUND = "Subject not found"


async def get_subject(db: AsyncSession, subject_id: str) -> Subject:
    subject = await repository.entity(db, subject_id)
    if subject is None:
        raise NotFound(SUBJECT_NOT_FOUND)
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


def _searchable(search: str | None) -> str | None:
    if search and (len(search) > MAX_SEARCH_CHARS or "\x00" in search):
        raise InvalidInput(f"search must be at most {MAX_SEARCH_CHARS} characters")
    return search or None


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
    return await repository.catalogue(
        db,
        professor_id=professor if isinstance(professor, uuid.UUID) else None,
        professor_username=users.normalise(professor) if isinstance(professor, str) else None,
        name_contains=_searchable(search),
        limit=limit,
        skip=skip,
        after=after,
        with_professor=with_professor,
        with_count=with_count,
    )


async def get_subject_row(db: AsyncSession, actor: Actor | None, subject_id: str) -> SubjectRow:
    """One subject with its enrollment count, in one statement."""
    require_actor(actor)
    found = await repository.row_with_count(db, subject_id)
    if found is None:
        raise NotFound(SUBJECT_NOT_FOUND)
    return found


def _storable(codes: Iterable[str]) -> list[str]:
    """Codes a statement can carry (PostgreSQL refuses a NUL in a text parameter; no code has
    one)."""
    return [code for code in codes if "\x00" not in code]


async def get_subject_views(
    db: AsyncSession, actor: Actor | None, subject_ids: Sequence[str]
) -> list[SubjectView | DomainError]:
    """Several subjects by code in one statement (GraphQL `subject` and `node` batches): per
    code its view, or NotFound. Any signed-in user."""
    require_actor(actor)
    found = await repository.views_by_id(db, _storable(subject_ids))
    return [found.get(sid) or NotFound(SUBJECT_NOT_FOUND) for sid in subject_ids]


async def subjects_by_id(db: AsyncSession, subject_ids: Iterable[str]) -> dict[str, SubjectView]:
    """Subjects referred to by something the caller may already see (a chat session's subject):
    no rule of their own."""
    return await repository.views_by_id(db, _storable(subject_ids))


async def enrolled_subjects(db: AsyncSession, actor: Actor | None) -> list[SubjectView]:
    """The subjects the caller is enrolled in (empty for professors and admins)."""
    actor = require_actor(actor)
    return await repository.enrolled_by(db, actor.id)


async def student_counts(db: AsyncSession, subject_ids: Iterable[str]) -> dict[str, int]:
    """Enrollment counts of subjects the caller may already see: no rule of their own."""
    return await analytics.student_counts(db, set(subject_ids))


async def enrolled_among(
    db: AsyncSession, actor: Actor | None, subject_ids: Iterable[str]
) -> set[str]:
    """Which of these subjects the caller is enrolled in (none for an anonymous caller)."""
    if actor is None:
        return set()
    return await repository.enrolled_among(db, actor.id, subject_ids)


async def subjects_of_users(
    db: AsyncSession, user_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[SubjectView]]:
    """Subjects each user is enrolled in or teaches, for users the caller was already shown: no
    rule of their own."""
    return await repository.of_users(db, user_ids)


@dataclass(frozen=True, slots=True)
class StudentsPage:
    """One subject's page of enrolled students: by username, after `after` (keyset).
    `professor_id` is the subject's, as read with the subject: require_staff decides on it."""

    subject_id: str
    professor_id: uuid.UUID | None
    limit: int
    after: str = ""


async def students_of_subjects(
    db: AsyncSession, actor: Actor | None, pages: Sequence[StudentsPage]
) -> list[list[UserView] | DomainError]:
    """Pages of enrolled students for many subjects, each for its professor and admins only
    (require_staff; a refused page is its error, the others are read): one window-function
    statement per distinct (limit, after), whatever the number of subjects."""
    result: dict[StudentsPage, list[UserView] | DomainError] = {}
    windows: dict[tuple[int, str], set[str]] = defaultdict(set)
    for request in pages:
        try:
            require_staff(actor, request.professor_id)
        except DomainError as exc:
            result[request] = exc
            continue
        windows[(request.limit, request.after)].add(request.subject_id)
    for (limit, after), sids in windows.items():
        found = await repository.students_pages(db, sids, limit=limit, after=after)
        for request in pages:
            if (request.limit, request.after) == (limit, after) and request not in result:
                result[request] = found.get(request.subject_id, [])
    return [result[request] for request in pages]


# --- writing ---------------------------------------------------------------------------------


async def _professor(db: AsyncSession, username: str) -> User:
    user = await users.by_username(db, username)
    if user is None:
        raise NotFound("Professor not found")
    if user.role != Role.PROFESSOR.value:
        raise InvalidInput("User is not a professor")
    return user


async def _view(db: AsyncSession, subject_id: str) -> SubjectView:
    view = await repository.view_by_id(db, subject_id)
    if view is None:
        raise NotFound(SUBJECT_NOT_FOUND)
    return view


async def create_subject(db: AsyncSession, actor: Actor | None, data: SubjectCreate) -> SubjectView:
    require_role(actor, Role.ADMIN, detail="Insufficient permissions (not admin)")
    if await repository.entity(db, data.subject_id) is not None:
        raise Conflict("Subject already exists")
    professor = await _professor(db, data.professor_id) if data.professor_id else None
    subject = Subject(
        id=data.subject_id,
        name=data.name,
        description=data.description,
        guide=data.guide,
        professor_id=professor.id if professor else None,
    )
    try:
        await repository.add(db, subject)
    except IntegrityError as exc:  # lost a race with a concurrent create
        raise Conflict("Subject already exists") from exc
    return await _view(db, subject.id)


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
    await repository.save(db)
    return await _view(db, subject_id)


async def delete_subject(db: AsyncSession, actor: Actor | None, subject_id: str) -> None:
    require_role(actor, Role.ADMIN, detail="Insufficient permissions (not admin)")
    if not await repository.remove(db, subject_id):
        raise NotFound(SUBJECT_NOT_FOUND)


def _require_student(actor: Actor | None) -> Actor:
    actor = require_actor(actor)
    if actor.role is not Role.STUDENT:
        raise InvalidInput("Student role required")
    return actor


async def enroll(db: AsyncSession, actor: Actor | None, subject_id: str) -> SubjectView:
    """Idempotent under races: the primary key (student, subject) admits one row; a concurrent
    duplicate does nothing and is reported as AlreadyEnrolled, never as a 500."""
    actor = _require_student(actor)
    view = await _view(db, subject_id)
    try:
        inserted = await repository.add_enrollment(db, actor.id, subject_id)
    except IntegrityError as exc:  # the subject was deleted in between
        raise NotFound(SUBJECT_NOT_FOUND) from exc
    if not inserted:
        raise AlreadyEnrolled("Student already enrolled")
    await aggregates.enrolled(db, actor.id, subject_id)
    return view


async def unenroll(db: AsyncSession, actor: Actor | None, subject_id: str) -> SubjectView:
    """Removes the enrollment; the student's sessions and quiz history in the subject stay."""
    actor = _require_student(actor)
    view = await _view(db, subject_id)
    if not await repository.remove_enrollment(db, actor.id, subject_id):
        raise NotFound("Not enrolled in subject")
    await aggregates.unenrolled(db, actor.id, subject_id)
    return view
