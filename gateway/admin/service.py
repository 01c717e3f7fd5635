"""Administration of accounts: listing users, changing roles, deleting accounts."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import and_, delete, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.analytics import aggregates
from gateway.auth.actor import Actor, require_role
from gateway.auth.passwords import Passwords
from gateway.errors import InvalidInput, NotFound
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
    query = select(User).order_by(User.created_at, User.username).limit(limit).offset(skip)
    if after is not None:
        created_at, username = after
        query = query.where(
            or_(
                User.created_at > created_at,
                and_(User.created_at == created_at, User.username > username),
            )
        )
    if role is not None:
        query = query.where(User.role == _role(role).value)
    return await users.views(db, list(await db.scalars(query)))


async def _other_admins_locked(db: AsyncSession, user: User) -> int:
    """Count the admins other than `user`, locking their rows so that two admins demoting each
    other at once cannot both succeed. SQLite ignores FOR UPDATE (and runs reads outside the
    transaction), so a no-op write first takes its single writer lock, waiting for any other."""
    if db.get_bind().dialect.name == "sqlite":
        await db.execute(text("UPDATE users SET role = role WHERE role = 'ADMIN'"))
    ids = await db.scalars(select(User.id).where(User.role == Role.ADMIN.value).with_for_update())
    return sum(1 for uid in ids if uid != user.id)


async def _target(db: AsyncSession, who: str | uuid.UUID) -> User:
    """The account by username or by id."""
    user = await (db.get(User, who) if isinstance(who, uuid.UUID) else users.by_username(db, who))
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
    require_role(actor, Role.ADMIN)
    role = _role(new_role)
    user = await _target(db, username)
    if user.role == Role.ADMIN.value and role is not Role.ADMIN:
        if await _other_admins_locked(db, user) == 0:
            raise InvalidInput(LAST_ADMIN)
        await db.refresh(user)
    user.role = role.value
    await db.flush()
    return await users.view(db, user)


async def delete_user(
    db: AsyncSession, actor: Actor | None, username: str | uuid.UUID
) -> uuid.UUID:
    """Deletes the account; returns its id."""
    require_role(actor, Role.ADMIN)
    user = await _target(db, username)
    if user.role == Role.ADMIN.value and await _other_admins_locked(db, user) == 0:
        raise InvalidInput(LAST_ADMIN)
    await aggregates.user_deleting(db, user.id)
    await db.execute(delete(User).where(User.id == user.id))
    return user.id


async def create_user(db: AsyncSession, passwords: Passwords, data: RegisterInput) -> UserView:
    """Create an account with any role. Only the CLI and admin tooling call this."""
    return await users.create(db, passwords, data, role=data.role)
