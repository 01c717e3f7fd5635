"""Registration, login and turning a bearer token into an Actor read from the database."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.auth.actor import Actor
from gateway.auth.passwords import Passwords
from gateway.auth.tokens import Tokens
from gateway.errors import Forbidden, Unauthenticated
from gateway.users import service as users
from gateway.users.models import Role
from gateway.users.schemas import RegisterInput, UserView


async def register(db: AsyncSession, passwords: Passwords, data: RegisterInput) -> UserView:
    if data.role is not Role.STUDENT:
        raise Forbidden("Self-registration can only create STUDENT accounts")
    return await users.create(db, passwords, data, role=Role.STUDENT)


@dataclass(frozen=True, slots=True)
class Login:
    access_token: str
    user: UserView


async def login(
    db: AsyncSession, passwords: Passwords, tokens: Tokens, username: str, password: str
) -> Login:
    user = await users.by_username(db, username) if len(password) <= 256 else None
    if not await passwords.verify(password[:256], user.hashed_password if user else None):
        raise Unauthenticated("Incorrect username or password")
    assert user is not None
    view = await users.view(db, user)
    token = tokens.issue(
        user_id=user.id, username=user.username, role=user.role, subjects=view.subjects
    )
    return Login(access_token=token, user=view)


async def actor_from_token(db: AsyncSession, tokens: Tokens, token: str) -> Actor:
    """The token proves identity only; the role is whatever the database says right now.
    One statement reads the caller's row and subject codes: the actor carries its profile."""
    claims = tokens.verify(token)
    # Core execution on the session's connection: the ORM result machinery is not needed
    # for plain columns and costs more than the statement itself.
    conn = await db.connection()
    found = await conn.execute(users.PROFILE_BY_ID, {"user_id": claims.user_id})
    row = found.one_or_none()
    if row is None or row.username != claims.username:
        raise Unauthenticated("Could not validate credentials")
    profile = users.profile_of(row)
    return Actor(id=row.id, username=row.username, role=profile.role, profile=profile)
