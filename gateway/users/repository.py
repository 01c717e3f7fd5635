"""Every statement about users, and the one way a user row becomes a UserView.

Hot reads (the caller's profile, a page's professors) select columns, are built once at module
level with bound parameters and run as Core on the session's connection: building a select
costs more CPU than running it from the compiled cache, and the ORM result layer is not needed
for plain columns."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Select,
    Subquery,
    and_,
    bindparam,
    delete,
    func,
    literal_column,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.statements import Runnable, Statement
from gateway.subjects.models import Enrollment, Subject
from gateway.users.models import Role, User
from gateway.users.schemas import UserView

PROFILE_COLUMNS = (
    User.id,
    User.username,
    User.email,
    User.full_name,
    User.role,
    User.theme,
    User.notifications,
    User.created_at,
)
PROFILE_KEYS = tuple(c.key for c in PROFILE_COLUMNS)


# --- the one "subjects of a user" query ---------------------------------------------------------

# Given a user-id column, the condition that picks the users wanted.
UserIdMatch = Callable[[Any], ColumnElement[bool]]


def subject_links(
    match: UserIdMatch,
) -> tuple[Select[uuid.UUID, str], Select[uuid.UUID | None, str]]:
    """The subjects of a user: (user_id, subject_id) for each subject a student is enrolled in
    and each subject a professor teaches, for the users `match` selects. Every reader of "a
    user's subjects" (codes, the profile, the subjects themselves) is built from these two."""
    enrolled = select(
        Enrollment.student_id.label("user_id"), Enrollment.subject_id.label("subject_id")
    ).where(match(Enrollment.student_id))
    taught = select(Subject.professor_id.label("user_id"), Subject.id.label("subject_id")).where(
        match(Subject.professor_id)
    )
    return enrolled, taught


def _in_user_ids(user_id: Any) -> ColumnElement[bool]:
    return user_id.in_(bindparam("user_ids", expanding=True))


def subject_links_of_users() -> Subquery:
    """subject_links for the ids bound as `user_ids` (a list), as one subquery."""
    return union_all(*subject_links(_in_user_ids)).subquery("subject_links")


_LINKS = subject_links_of_users()
_SUBJECT_CODES = select(_LINKS.c.user_id, _LINKS.c.subject_id)


def _profile_statement() -> Select[tuple[object, ...]]:
    """A user's profile columns and subject codes, comma-joined (codes never hold a comma):
    subject_links as correlated scalar subqueries, so one statement reads a user and their
    subjects."""
    # The separator is a literal column, not a bound value: aggregate_strings() would render a
    # bound separator as a literal on every execution (a per-request "post-compile" step).
    comma = cast(str, literal_column("','"))  # typed as str; any SQL expression works
    enrolled, taught = subject_links(lambda user_id: user_id == User.id)
    return select(
        *PROFILE_COLUMNS,
        enrolled.with_only_columns(func.aggregate_strings(Enrollment.subject_id, comma))
        .scalar_subquery()
        .label("enrolled"),
        taught.with_only_columns(func.aggregate_strings(Subject.id, comma))
        .scalar_subquery()
        .label("taught"),
    )


PROFILES = _profile_statement()
PROFILE_BY_ID = PROFILES.where(User.id == bindparam("user_id"))
_PROFILES_BY_REF = PROFILES.where(
    or_(
        User.id.in_(bindparam("user_ids", expanding=True)),
        User.username.in_(bindparam("usernames", expanding=True)),
    )
)
# Without subject codes: a page's professors, whose codes load only if a query asks for them.
_BRIEF_BY_ID = select(*PROFILE_COLUMNS).where(User.id.in_(bindparam("user_ids", expanding=True)))


def user_view(data: Mapping[Any, Any], *, prefix: str = "", with_subjects: bool = True) -> UserView:
    """The one UserView mapper: a row of PROFILE_COLUMNS (keys optionally prefixed) and, with
    `with_subjects`, the comma-joined `enrolled` and `taught` codes of the profile statement
    (else the view has no subjects)."""
    fields: dict[str, Any] = {key: data[prefix + key] for key in PROFILE_KEYS}
    if with_subjects:
        # Sorted here, not by the database's collation, the same way on both engines.
        codes = f"{data['enrolled'] or ''},{data['taught'] or ''}".split(",")
        fields["subjects"] = sorted({code for code in codes if code})
    return UserView.model_validate(fields)


# --- reads ------------------------------------------------------------------------------------


# The caller's row and subject codes: the first statement of every authenticated request.
CALLER = Statement(PROFILE_BY_ID, name="users.caller", sample={"user_id": User.id})


async def profile_by_id(db: Runnable, user_id: uuid.UUID) -> UserView | None:
    """The caller's read on every request (gateway.statements: prepared on the driver)."""
    row = await CALLER.one_or_none(db, user_id=user_id)
    return None if row is None else user_view(row._asdict())


async def profiles_by_ref(
    db: AsyncSession, user_ids: Sequence[uuid.UUID], usernames: Sequence[str]
) -> list[UserView]:
    """Users by id or by (normalised) username, with their subjects: one statement."""
    if not user_ids and not usernames:
        return []
    conn = await db.connection()
    params = {"user_ids": list(user_ids), "usernames": list(usernames)}
    return [user_view(r._mapping) for r in await conn.execute(_PROFILES_BY_REF, params)]


async def briefs_by_id(
    db: AsyncSession, user_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, UserView]:
    """Users by id WITHOUT their subject codes (`subjects` is empty): one statement."""
    ids = list(set(user_ids))
    if not ids:
        return {}
    conn = await db.connection()
    rows = await conn.execute(_BRIEF_BY_ID, {"user_ids": ids})
    return {row.id: user_view(row._mapping, with_subjects=False) for row in rows}


async def subject_codes(
    db: AsyncSession, user_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[str]]:
    """Codes of the subjects each user is enrolled in or teaches: one statement."""
    ids = list(set(user_ids))
    if not ids:
        return {}
    conn = await db.connection()
    found: dict[uuid.UUID, set[str]] = defaultdict(set)
    for user_id, subject_id in await conn.execute(_SUBJECT_CODES, {"user_ids": ids}):
        found[user_id].add(subject_id)
    # Sorted as user_view sorts.
    return {user_id: sorted(codes) for user_id, codes in found.items()}


async def page(
    db: AsyncSession,
    *,
    role: Role | None,
    limit: int,
    skip: int,
    after: tuple[dt.datetime, str] | None,
) -> list[UserView]:
    """Every account, oldest first, with their subjects. `after`: (created_at, username) of the
    last account already seen (keyset)."""
    query = PROFILES.order_by(User.created_at, User.username).limit(limit).offset(skip)
    if after is not None:
        created_at, username = after
        query = query.where(
            or_(
                User.created_at > created_at,
                and_(User.created_at == created_at, User.username > username),
            )
        )
    if role is not None:
        query = query.where(User.role == role.value)
    conn = await db.connection()
    return [user_view(r._mapping) for r in await conn.execute(query)]


async def by_username(db: AsyncSession, username: str) -> User | None:
    """The account (an ORM entity: login reads the hash, admin edits it); `username` as stored."""
    return await db.scalar(select(User).where(User.username == username))


async def by_id(db: AsyncSession, user_id: uuid.UUID) -> User | None:
    return await db.get(User, user_id)


async def username_or_email_taken(db: AsyncSession, username: str, email: str) -> bool:
    found = await db.scalar(
        select(User.id).where(or_(User.username == username, User.email == email)).limit(1)
    )
    return found is not None


async def email_taken(db: AsyncSession, email: str) -> bool:
    return await db.scalar(select(User.id).where(User.email == email)) is not None


async def add(db: AsyncSession, user: User) -> None:
    """Inserts now (a unique-constraint race raises IntegrityError here)."""
    db.add(user)
    await db.flush()


async def save(db: AsyncSession) -> None:
    """Writes the changes made to loaded users (IntegrityError on a constraint race)."""
    await db.flush()


async def reload(db: AsyncSession, user: User) -> None:
    await db.refresh(user)


async def admin_ids_locked(db: AsyncSession) -> list[uuid.UUID]:
    """Every admin's id, locking their rows so that two admins demoting each other at once
    cannot both succeed. SQLite ignores FOR UPDATE (and runs reads outside the transaction),
    so a no-op write first takes its single writer lock, waiting for any other."""
    if db.get_bind().dialect.name == "sqlite":
        await db.execute(text("UPDATE users SET role = role WHERE role = 'ADMIN'"))
    found = await db.scalars(select(User.id).where(User.role == Role.ADMIN.value).with_for_update())
    return list(found)


async def remove(db: AsyncSession, user_id: uuid.UUID) -> None:
    await db.execute(delete(User).where(User.id == user_id))
