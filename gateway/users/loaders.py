"""Per-request DataLoaders for users. Each batch opens its own short read session, so sibling
resolvers never share an AsyncSession; the rules are the service's, which takes the caller."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from functools import cached_property

from strawberry.dataloader import DataLoader

from gateway.auth.actor import ActorSource
from gateway.db import Database
from gateway.errors import DomainError
from gateway.users import service
from gateway.users.schemas import UserView

UserRef = uuid.UUID | str  # an id (from a global id) or a username


class UserLoaders:
    """Created on first use in a request (most requests need none of them)."""

    def __init__(self, db: Database, actor: ActorSource) -> None:
        self._db = db
        self._actor = actor

    @cached_property
    def by_ref(self) -> DataLoader[UserRef, UserView]:
        """Query.user and node(id:) for a User: service.get_users' rule, per user its error."""
        return DataLoader(load_fn=self._by_ref)

    @cached_property
    def briefs(self) -> DataLoader[uuid.UUID, UserView | None]:
        """Users without their subject codes (a page's professors)."""
        return DataLoader(load_fn=self._briefs)

    @cached_property
    def subject_codes(self) -> DataLoader[uuid.UUID, list[str]]:
        return DataLoader(load_fn=self._subject_codes)

    async def _by_ref(self, refs: list[UserRef]) -> Sequence[UserView | DomainError]:
        actor = await self._actor()
        async with self._db.read() as db:
            return await service.get_users(db, actor, refs)

    async def _briefs(self, ids: list[uuid.UUID]) -> list[UserView | None]:
        async with self._db.read() as db:
            found = await service.briefs_by_id(db, ids)
        return [found.get(i) for i in ids]

    async def _subject_codes(self, ids: list[uuid.UUID]) -> list[list[str]]:
        async with self._db.read() as db:
            found = await service.subject_codes(db, ids)
        return [found.get(i, []) for i in ids]
