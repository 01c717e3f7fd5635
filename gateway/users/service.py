"""Every rule about users: who may read whom, what a user may change about themselves."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import cast

from sqlalchemy import Row, Select, bindparam, func, literal_column, or_, select, union_all
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.auth.actor import Actor, require_actor, require_role
from gateway.auth.passwords import Passwords
from gateway.errors import Conflict, DomainError, NotFound
from gateway.subjects.models import Enrollment, Subject
from gateway.users.models import Role, User
from gateway.users.schemas import ProfileUpdate, RegisterInput, UserView


async def subject_codes(
    db: AsyncSession, user_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[str]]:
    """Subjects a user is enrolled in (students) or teaches (professors), in one statement."""
    ids = list(set(user_ids))
    if not ids:
        return {}
    enrolled = select(Enrollment.student_id.label("uid"), Enrollment.subject_id.label("sid")).where(
        Enrollment.student_id.in_(ids)
    )
    taught = select(Subject.professor_id.label("uid"), Subject.id.label("sid")).where(
        Subject.professor_id.in_(ids)
    )
    both = union_all(enrolled, taught).subquery()
    rows = await db.execute(select(both.c.uid, both.c.sid))
    found: dict[uuid.UUID, set[str]] = defaultdict(set)
    for uid, sid in rows:
        found[uid].add(sid)
    # Sorted here, not by the database's collation: profile_of() sorts the same way.
    return {uid: sorted(sids) for uid, sids in found.items()}


def _profile_statement() -> Select[tuple[object, ...]]:
    """A user's profile columns and subject codes, comma-joined (codes never hold a comma):
    correlated scalar subqueries, so one statement reads the caller and their subjects."""
    # The separator is a literal column, not a bound value: aggregate_strings() would render a
    # bound separator as a literal on every execution (a per-request "post-compile" step).
    comma = cast(str, literal_column("','"))  # typed as str; any SQL expression works
    enrolled = select(func.aggregate_strings(Enrollment.subject_id, comma)).where(
        Enrollment.student_id == User.id
    )
    taught = select(func.aggregate_strings(Subject.id, comma)).where(
        Subject.professor_id == User.id
    )
    return select(
        *PROFILE_COLUMNS,
        enrolled.scalar_subquery().label("enrolled"),
        taught.scalar_subquery().label("taught"),
    )


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

# Built once: constructing this select costs more CPU than executing it from the compiled cache.
PROFILE_BY_ID = _profile_statement().where(User.id == bindparam("user_id"))


def profile_of(row: Row[tuple[object, ...]]) -> UserView:
    data = row._asdict()
    codes = f"{data.pop('enrolled') or ''},{data.pop('taught') or ''}"
    data["subjects"] = sorted({code for code in codes.split(",") if code})
    return UserView.model_validate(data)


async def views(db: AsyncSession, users: list[User]) -> list[UserView]:
    codes = await subject_codes(db, (u.id for u in users))
    return [
        UserView.model_validate(u).model_copy(update={"subjects": codes.get(u.id, [])})
        for u in users
    ]


async def view(db: AsyncSession, user: User) -> UserView:
    return (await views(db, [user]))[0]


async def by_username(db: AsyncSession, username: str) -> User | None:
    if "\x00" in username:  # no username has one; PostgreSQL would refuse the query (400)
        return None
    return await db.scalar(select(User).where(User.username == username.strip().lower()))


ALREADY_REGISTERED = "Username or email already registered"


async def create(
    db: AsyncSession, passwords: Passwords, data: RegisterInput, *, role: Role
) -> UserView:
    taken = await db.scalar(
        select(User.id).where(or_(User.username == data.username, User.email == data.email))
    )
    if taken is not None:
        raise Conflict(ALREADY_REGISTERED)
    user = User(
        username=data.username,
        email=data.email,
        full_name=data.full_name,
        hashed_password=await passwords.hash(data.password),
        role=role.value,
    )
    db.add(user)
    try:
        await db.flush()
    except IntegrityError as exc:  # lost a race with a concurrent registration
        raise Conflict(ALREADY_REGISTERED) from exc
    return await view(db, user)


def loaded_profile(actor: Actor | None) -> UserView | None:
    """The caller's own profile when it was read with the caller in this request (then `me`
    needs no session at all), else None."""
    return require_actor(actor).profile


async def me(db: AsyncSession, actor: Actor | None) -> UserView:
    profile = loaded_profile(actor)
    if profile is not None:
        return profile
    actor = require_actor(actor)
    user = await db.get(User, actor.id)
    if user is None:
        raise NotFound("User not found")
    return await view(db, user)


async def get_user(db: AsyncSession, actor: Actor | None, username: str) -> UserView:
    """Another user's profile: professors and admins only."""
    actor = require_actor(actor)
    if actor.username != username.strip().lower():
        require_role(actor, Role.PROFESSOR, Role.ADMIN)
    user = await by_username(db, username)
    if user is None:
        raise NotFound("User not found")
    return await view(db, user)


async def get_users(
    db: AsyncSession, actor: Actor | None, refs: Sequence[uuid.UUID | str]
) -> list[UserView | DomainError]:
    """Users by id or username (GraphQL `user` and `node` batches), with get_user's rule and
    errors per user: the caller themself, else professors and admins only."""
    actor = require_actor(actor)
    ids = [r for r in refs if isinstance(r, uuid.UUID)]
    names = [r.strip().lower() for r in refs if isinstance(r, str) and "\x00" not in r]
    rows: list[User] = []
    if ids or names:
        rows = list(
            await db.scalars(select(User).where(or_(User.id.in_(ids), User.username.in_(names))))
        )
    found_views = await views(db, rows)
    by_id = {v.id: v for v in found_views}
    by_name = {v.username: v for v in found_views}
    result: list[UserView | DomainError] = []
    for ref in refs:
        is_self = ref == actor.id if isinstance(ref, uuid.UUID) else _same(ref, actor.username)
        try:
            if not is_self:
                require_role(actor, Role.PROFESSOR, Role.ADMIN)
            view = by_id.get(ref) if isinstance(ref, uuid.UUID) else by_name.get(_norm(ref))
            if view is None:
                raise NotFound("User not found")
            result.append(view)
        except DomainError as exc:
            result.append(exc)
    return result


def _norm(username: str) -> str:
    return username.strip().lower()


def _same(username: str, other: str) -> bool:
    return _norm(username) == other


def can_see_email(viewer: Actor | None, user_id: uuid.UUID) -> bool:
    return viewer is not None and (viewer.id == user_id or viewer.role is not Role.STUDENT)


def can_see_preferences(viewer: Actor | None, user_id: uuid.UUID) -> bool:
    """Preferences are the user's own business."""
    return viewer is not None and viewer.id == user_id


async def update_me(db: AsyncSession, actor: Actor | None, changes: ProfileUpdate) -> UserView:
    actor = require_actor(actor)
    user = await db.get(User, actor.id)
    if user is None:
        raise NotFound("User not found")
    if changes.email is not None and changes.email != user.email:
        taken = await db.scalar(select(User.id).where(User.email == changes.email))
        if taken is not None:
            raise Conflict("Email already in use")
        user.email = changes.email
    if changes.full_name is not None:
        user.full_name = changes.full_name
    if changes.preferences is not None:
        if changes.preferences.theme is not None:
            user.theme = changes.preferences.theme
        if changes.preferences.notifications is not None:
            user.notifications = changes.preferences.notifications
    try:
        await db.flush()
    except IntegrityError as exc:  # a concurrent update took the email first
        raise Conflict("Email already in use") from exc
    return await view(db, user)
