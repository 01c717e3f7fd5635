"""Administration of accounts: listing users, changing roles, deleting accounts. Its statements
are users' own (gateway.users.repository): admin has none of its own."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.analytics import aggregates
from gateway.auth.actor import Actor, require_role
from gateway.auth.passwords import Passwords
from gateway.errors import InvalidInput, NotFound
from gateway.users import repository as user_rows
from gateway.users import service as users
from gateway.users.models import Role, User
from gateway.users.schemas import RegisterInput, UserView, parse_role

LAST_ADMIN = "Cannot remove the last admin"


async def list_users(
    db: AsyncSession,
    actor: Actor | None,
    *,
    role: Role | str | None,
    limit: int,
    skip: int = 0,
    after: tuple[dt.datetime, str] | None = None,
) -> list[UserView]:
    """Every account, oldest first. `after`: (created_at, username) of the last account
    already seen (keyset paging)."""
    require_role(actor, Role.ADMIN)
    wanted = None if role is None else _role(role)
    return await user_rows.page(db, role=wanted, limit=limit, skip=skip, after=after)


async def _other_admins_locked(db: AsyncSession, user: User) -> int:
    """How many admins other than `user` there are, their rows locked (see admin_ids_locked)."""
    return sum(1 for uid in await user_rows.admin_ids_locked(db) if uid != user.id)


async def _target(db: AsyncSession, who: str | uuid.UUID) -> User:
    """The account by username or by id."""
    user = await (
        user_rows.by_id(db, who) if isinstance(who, uuid.UUID) else users.by_username(db, who)
    )
    if user is None:
        raise NotFound("User not found")
    return user


def _role(value: Role | str) -> Role:
    try:
        return parse_role(value)
    except ValueError as exc:
        raise InvalidInput("Invalid role") from exc


async def set_role(
    db: AsyncSession, actor: Actor | None, username: str | uuid.UUID, new_role: Role | str
) -> UserView:
    """An admin changes any account's role; the last admin cannot be demoted."""
    require_role(actor, Role.ADMIN)
    role = _role(new_role)
    user = await _target(db, username)
    if user.role == Role.ADMIN.value and role is not Role.ADMIN:
        if await _other_admins_locked(db, user) == 0:
            raise InvalidInput(LAST_ADMIN)
        await user_rows.reload(db, user)
    user.role = role.value
    await user_rows.save(db)
    return await users.view_of(db, user)


async def delete_user(
    db: AsyncSession, actor: Actor | None, username: str | uuid.UUID
) -> uuid.UUID:
    """Deletes the account (an admin only; never the last admin); returns its id."""
    require_role(actor, Role.ADMIN)
    user = await _target(db, username)
    if user.role == Role.ADMIN.value and await _other_admins_locked(db, user) == 0:
        raise InvalidInput(LAST_ADMIN)
    await aggregates.user_deleting(db, user.id)
    await user_rows.remove(db, user.id)
    return user.id


async def create_user(db: AsyncSession, passwords: Passwords, data: RegisterInput) -> UserView:
    """Create an account with any role. Only the CLI and admin tooling call this."""
    return await users.create(db, passwords, data, role=data.role)
