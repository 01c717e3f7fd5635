"""Registration, login and turning a bearer token into an Actor read from the database."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.auth.actor import Actor
from gateway.auth.passwords import Passwords
from gateway.auth.tokens import TokenClaims, Tokens
from gateway.errors import Forbidden, Unauthenticated
from gateway.statements import Runnable
from gateway.users import repository as user_rows
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
    view = await users.view_of(db, user)
    token = tokens.issue(
        user_id=user.id, username=user.username, role=user.role, subjects=view.subjects
    )
    return Login(access_token=token, user=view)


def identify(tokens: Tokens, token: str | None) -> TokenClaims:
    """Who the request says it is, proven by the token's signature and expiry, without the
    database. Operations that read the caller in their own first statement (the chat flow)
    take these claims and apply `actor_of` to the row they read."""
    if not token:
        raise Unauthenticated()
    return tokens.verify(token)


def actor_of(
    claims: TokenClaims,
    user_id: uuid.UUID,
    username: str,
    role: str | Role,
    profile: UserView | None = None,
) -> Actor:
    """The one identity rule: the token's user must still exist under the token's name (a
    deleted and re-registered name does not revive an old token); the role is the database's,
    never the token's."""
    if username != claims.username:
        raise Unauthenticated("Could not validate credentials")
    return Actor(id=user_id, username=username, role=Role(role), profile=profile)


async def actor_from_token(db: Runnable, tokens: Tokens, token: str | None) -> Actor:
    """The caller of a request, a WebSocket operation or a subscription event: the token
    proves identity only; one statement reads the caller's row and subject codes, so the actor
    carries its profile."""
    claims = identify(tokens, token)
    profile = await user_rows.profile_by_id(db, claims.user_id)
    if profile is None:
        raise Unauthenticated("Could not validate credentials")
    return actor_of(claims, profile.id, profile.username, profile.role, profile)
