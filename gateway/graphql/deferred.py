"""Plain GraphQL fields whose value is fetched only if the query selects them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Deferred(Generic[T]):
    """A field value that is only fetched if graphql-core awaits it, i.e. if the query
    selected the field. It lets such fields be plain attributes: strawberry resolves those
    without building an Info object and a resolver call per field and object, which cost
    ~50 us per field on a page of subjects."""

    __slots__ = ("_start",)

    def __init__(self, start: Callable[[], Awaitable[T]]) -> None:
        self._start = start

    def __await__(self) -> Generator[Any, None, T]:
        return self._start().__await__()
