"""Every rule about users: who may read whom, what a user may change about themselves. The
statements are in gateway.users.repository."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.auth.actor import Actor, require_actor, require_role
from gateway.auth.passwords import Passwords
from gateway.errors import Conflict, DomainError, NotFound
from gateway.users import repository
from gateway.users.models import Role, User
from gateway.users.schemas import ProfileUpdate, RegisterInput, UserView

ALREADY_REGISTERED = "Username or email already registered"
EMAIL_IN_USE = "Email already in use"


def normalise(username: str) -> str:
    return username.strip().lower()


async def by_username(db: AsyncSession, username: str) -> User | None:
    """An account by username in any case and spacing (the one lookup rule for names)."""
    if "\x00" in username:  # no username has one; PostgreSQL would refuse the query (400)
        return None
    return await repository.by_username(db, normalise(username))


async def _view(db: AsyncSession, user_id: uuid.UUID) -> UserView:
    view = await repository.profile_by_id(db, user_id)
    if view is None:
        raise NotFound("User not found")
    return view


async def view_of(db: AsyncSession, user: User) -> UserView:
    """A loaded account as services return it (with its subjects)."""
    return await _view(db, user.id)


async def create(
    db: AsyncSession, passwords: Passwords, data: RegisterInput, *, role: Role
) -> UserView:
    if await repository.username_or_email_taken(db, data.username, data.email):
        raise Conflict(ALREADY_REGISTERED)
    user = User(
        username=data.username,
        email=data.email,
        full_name=data.full_name,
        hashed_password=await passwords.hash(data.password),
        role=role.value,
    )
    try:
        await repository.add(db, user)
    except IntegrityError as exc:  # lost a race with a concurrent registration
        raise Conflict(ALREADY_REGISTERED) from exc
    return await view_of(db, user)


def loaded_profile(actor: Actor | None) -> UserView | None:
    """The caller's own profile when it was read with the caller in this request (then `me`
    needs no session at all), else None."""
    return require_actor(actor).profile


async def me(db: AsyncSession, actor: Actor | None) -> UserView:
    profile = loaded_profile(actor)
    if profile is not None:
        return profile
    return await _view(db, require_actor(actor).id)


async def get_user(db: AsyncSession, actor: Actor | None, username: str) -> UserView:
    """Another user's profile: professors and admins only."""
    (found,) = await get_users(db, actor, [username])
    if isinstance(found, DomainError):
        raise found
    return found


async def get_users(
    db: AsyncSession, actor: Actor | None, refs: Sequence[uuid.UUID | str]
) -> list[UserView | DomainError]:
    """Users by id or username (REST `GET /users/{name}`, GraphQL `user` and `node` batches),
    per user its view or its error: the caller themself, else professors and admins only."""
    actor = require_actor(actor)
    ids = [r for r in refs if isinstance(r, uuid.UUID)]
    names = [normalise(r) for r in refs if isinstance(r, str) and "\x00" not in r]
    found = await repository.profiles_by_ref(db, ids, names)
    by_id = {v.id: v for v in found}
    by_name = {v.username: v for v in found}
    result: list[UserView | DomainError] = []
    for ref in refs:
        is_self = (
            ref == actor.id if isinstance(ref, uuid.UUID) else normalise(ref) == actor.username
        )
        try:
            if not is_self:
                require_role(actor, Role.PROFESSOR, Role.ADMIN)
            view = by_id.get(ref) if isinstance(ref, uuid.UUID) else by_name.get(normalise(ref))
            if view is None:
                raise NotFound("User not found")
            result.append(view)
        except DomainError as exc:
            result.append(exc)
    return result


async def briefs_by_id(
    db: AsyncSession, user_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, UserView]:
    """Users shown inside something the caller may already see (a subject's professor), without
    their subject codes: no rule of their own."""
    return await repository.briefs_by_id(db, user_ids)


async def subject_codes(
    db: AsyncSession, user_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[str]]:
    """The codes of users the caller was already shown: no rule of their own."""
    return await repository.subject_codes(db, user_ids)


def can_see_email(viewer: Actor | None, user_id: uuid.UUID) -> bool:
    return viewer is not None and (viewer.id == user_id or viewer.role is not Role.STUDENT)


def can_see_preferences(viewer: Actor | None, user_id: uuid.UUID) -> bool:
    """Preferences are the user's own business."""
    return viewer is not None and viewer.id == user_id


async def update_me(db: AsyncSession, actor: Actor | None, changes: ProfileUpdate) -> UserView:
    actor = require_actor(actor)
    user = await repository.by_id(db, actor.id)
    if user is None:
        raise NotFound("User not found")
    if changes.email is not None and changes.email != user.email:
        if await repository.email_taken(db, changes.email):
            raise Conflict(EMAIL_IN_USE)
        user.email = changes.email
    if changes.full_name is not None:
        user.full_name = changes.full_name
    if changes.preferences is not None:
        if changes.preferences.theme is not None:
            user.theme = changes.preferences.theme
        if changes.preferences.notifications is not None:
            user.notifications = changes.preferences.notifications
    try:
        await repository.save(db)
    except IntegrityError as exc:  # a concurrent update took the email first
        raise Conflict(EMAIL_IN_USE) from exc
    return await view_of(db, user)
