"""One DataLoader per name and request, created on first use, kept in the mapping part of
`context.loaders`. Only the sessions domain still registers its loaders this way; users and
subjects have typed attributes on gateway.graphql.loaders.Loaders, where sessions' will go."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader

from gateway.graphql.context import Context

K = TypeVar("K")
V = TypeVar("V")


def request_loader(
    context: Context,
    name: str,
    batch: Callable[[Context, Sequence[K]], Awaitable[Sequence[V | BaseException]]],
) -> DataLoader[K, V]:
    """A batch may return an exception for a key: that key's load raises it (the error the
    direct field would raise), the other keys get their values."""
    existing: Any = context.loaders.get(name)
    if existing is None:

        async def load(keys: list[K]) -> Sequence[V | BaseException]:
            return await batch(context, keys)

        existing = context.loaders[name] = DataLoader(load_fn=load)
    loader: DataLoader[K, V] = existing
    return loader
