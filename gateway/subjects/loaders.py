"""Per-request DataLoaders for subjects. Each batch opens its own short read session, so
sibling resolvers never share an AsyncSession; a page of N subjects costs a constant number
of statements. The rules are the service's, which takes the caller."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from functools import cached_property
from typing import Any

from strawberry import Info
from strawberry.dataloader import DataLoader

from gateway.auth.actor import ActorSource
from gateway.db import Database
from gateway.errors import DomainError
from gateway.subjects import service
from gateway.subjects.schemas import SubjectView
from gateway.subjects.service import StudentsPage
from gateway.users.schemas import UserView


class SubjectLoaders:
    """Created on first use in a request (most requests need none of them)."""

    def __init__(self, db: Database, actor: ActorSource) -> None:
        self._db = db
        self._actor = actor

    @cached_property
    def lookup(self) -> DataLoader[str, SubjectView]:
        """Query.subject and node(id:) for a Subject: get_subject_views' rule, per code its
        error."""
        return DataLoader(load_fn=self._lookup)

    @cached_property
    def by_id(self) -> DataLoader[str, SubjectView | None]:
        """Subjects referred to by something already shown (a chat session's subject)."""
        return DataLoader(load_fn=self._by_id)

    @cached_property
    def student_counts(self) -> DataLoader[str, int]:
        return DataLoader(load_fn=self._student_counts)

    @cached_property
    def enrolled(self) -> DataLoader[str, bool]:
        """Whether the caller is enrolled in each subject."""
        return DataLoader(load_fn=self._enrolled)

    @cached_property
    def students(self) -> DataLoader[StudentsPage, list[UserView]]:
        """Pages of enrolled students: its professor and admins only (require_staff)."""
        return DataLoader(load_fn=self._students)

    @cached_property
    def of_users(self) -> DataLoader[uuid.UUID, list[SubjectView]]:
        """The subjects each user is enrolled in or teaches."""
        return DataLoader(load_fn=self._of_users)

    async def _lookup(self, codes: list[str]) -> Sequence[SubjectView | DomainError]:
        actor = await self._actor()
        async with self._db.read() as db:
            return await service.get_subject_views(db, actor, codes)

    async def _by_id(self, codes: list[str]) -> list[SubjectView | None]:
        async with self._db.read() as db:
            found = await service.subjects_by_id(db, codes)
        return [found.get(code) for code in codes]

    async def _student_counts(self, codes: list[str]) -> list[int]:
        async with self._db.read() as db:
            found = await service.student_counts(db, codes)
        return [found.get(code, 0) for code in codes]

    async def _enrolled(self, codes: list[str]) -> list[bool]:
        actor = await self._actor()
        async with self._db.read() as db:
            found = await service.enrolled_among(db, actor, codes)
        return [code in found for code in codes]

    async def _students(self, pages: list[StudentsPage]) -> Sequence[list[UserView] | DomainError]:
        actor = await self._actor()
        async with self._db.read() as db:
            return await service.students_of_subjects(db, actor, pages)

    async def _of_users(self, ids: list[uuid.UUID]) -> list[list[SubjectView]]:
        async with self._db.read() as db:
            found = await service.subjects_of_users(db, ids)
        return [found.get(i, []) for i in ids]


def subjects(info: Info[Any, Any]) -> DataLoader[str, SubjectView | None]:
    """The sessions domain's way in (gateway/sessions/types.py) until it reads
    `info.context.loaders.subjects.by_id` itself. (Typed loosely: this module is below the
    GraphQL context, which holds these loaders.)"""
    loader: DataLoader[str, SubjectView | None] = info.context.loaders.subjects.by_id
    return loader
