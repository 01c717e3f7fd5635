"""Who is calling: always read from the database, never from the token's claims."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from gateway.errors import Forbidden, Unauthenticated
from gateway.users.models import Role


@dataclass(frozen=True, slots=True)
class Actor:
    id: uuid.UUID
    username: str
    role: Role

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def is_professor(self) -> bool:
        return self.role is Role.PROFESSOR

    @property
    def is_student(self) -> bool:
        return self.role is Role.STUDENT


def require_actor(actor: Actor | None) -> Actor:
    if actor is None:
        raise Unauthenticated()
    return actor


def require_role(actor: Actor | None, *roles: Role, detail: str | None = None) -> Actor:
    actor = require_actor(actor)
    if actor.role not in roles:
        raise Forbidden(detail or "Insufficient permissions")
    return actor
