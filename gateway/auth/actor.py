"""Who is calling: always read from the database, never from the token's claims."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gateway.errors import Forbidden, Unauthenticated
from gateway.users.models import Role

if TYPE_CHECKING:
    from gateway.users.schemas import UserView


@dataclass(frozen=True, slots=True)
class Actor:
    id: uuid.UUID
    username: str
    role: Role
    # The caller's own profile, read in the same statement as the role (this request): it
    # saves /users/me and `me` a second read. Never shared across requests.
    profile: UserView | None = field(default=None, compare=False, repr=False)

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


def require_actor(actor: Actor | None) -> Actor:
    if actor is None:
        raise Unauthenticated()
    return actor


def require_role(actor: Actor | None, *roles: Role, detail: str | None = None) -> Actor:
    actor = require_actor(actor)
    if actor.role not in roles:
        raise Forbidden(detail or "Insufficient permissions")
    return actor


# How a per-request DataLoader reads the caller: the request's own (cached) resolution, awaited
# only when a batch runs.
ActorSource = Callable[[], Awaitable[Actor | None]]
