"""Per-request DataLoaders for subjects. Each batch opens its own short read session, so
sibling resolvers never share an AsyncSession; a page of N subjects costs a constant number
of statements."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader

from gateway.graphql.context import Context, Info
from gateway.subjects import service
from gateway.subjects.schemas import SubjectView
from gateway.users import service as users_service
from gateway.users.schemas import UserView

K = TypeVar("K")
V = TypeVar("V")

StudentsKey = tuple[str, int, str]  # (subject id, limit, after username)


def _loader(
    info: Info,
    name: str,
    batch: Callable[[Context, Sequence[K]], Awaitable[Sequence[V]]],
) -> DataLoader[K, V]:
    context = info.context
    existing: Any = context.loaders.get(name)
    if existing is None:

        async def load(keys: list[K]) -> Sequence[V]:
            return await batch(context, keys)

        existing = context.loaders[name] = DataLoader(load_fn=load)
    loader: DataLoader[K, V] = existing
    return loader


async def _users(context: Context, ids: Sequence[uuid.UUID]) -> list[UserView | None]:
    async with context.gateway.db.read() as db:
        found = await service.users_by_id(db, ids)
    return [found.get(i) for i in ids]


async def _codes(context: Context, ids: Sequence[uuid.UUID]) -> list[list[str]]:
    async with context.gateway.db.read() as db:
        found = await users_service.subject_codes(db, ids)
    return [found.get(i, []) for i in ids]


async def _counts(context: Context, ids: Sequence[str]) -> list[int]:
    async with context.gateway.db.read() as db:
        found = await service.student_counts(db, ids)
    return [found.get(i, 0) for i in ids]


async def _enrolled(context: Context, ids: Sequence[str]) -> list[bool]:
    actor = await context.actor()
    async with context.gateway.db.read() as db:
        found = await service.enrolled_among(db, actor, ids)
    return [i in found for i in ids]


async def _students(context: Context, keys: Sequence[StudentsKey]) -> list[list[UserView]]:
    async with context.gateway.db.read() as db:
        found = await service.students_of_subjects(db, keys)
    return [found[k] for k in keys]


async def _user_subjects(context: Context, ids: Sequence[uuid.UUID]) -> list[list[SubjectView]]:
    async with context.gateway.db.read() as db:
        found = await service.subjects_of_users(db, ids)
    return [found.get(i, []) for i in ids]


async def _subjects(context: Context, ids: Sequence[str]) -> list[SubjectView | None]:
    async with context.gateway.db.read() as db:
        found = await service.subjects_by_id(db, ids)
    return [found.get(i) for i in ids]


def subjects(info: Info) -> DataLoader[str, SubjectView | None]:
    return _loader(info, "subjects.by_id", _subjects)


def users(info: Info) -> DataLoader[uuid.UUID, UserView | None]:
    return _loader(info, "subjects.users", _users)


def subject_codes(info: Info) -> DataLoader[uuid.UUID, list[str]]:
    return _loader(info, "subjects.subject_codes", _codes)


def student_counts(info: Info) -> DataLoader[str, int]:
    return _loader(info, "subjects.student_counts", _counts)


def enrolled(info: Info) -> DataLoader[str, bool]:
    return _loader(info, "subjects.enrolled", _enrolled)


def students(info: Info) -> DataLoader[StudentsKey, list[UserView]]:
    return _loader(info, "subjects.students", _students)


def user_subjects(info: Info) -> DataLoader[uuid.UUID, list[SubjectView]]:
    return _loader(info, "subjects.user_subjects", _user_subjects)
