"""Relay-style connections over offset cursors, with a hard cap on page size."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Generic, TypeVar

import strawberry

from gateway.errors import InvalidInput

T = TypeVar("T")
_PREFIX = "offset:"


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"{_PREFIX}{offset}".encode()).decode()


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        if text.startswith(_PREFIX):
            value = int(text[len(_PREFIX) :])
            if 0 <= value <= 10_000_000:
                return value
    except (ValueError, UnicodeError):
        pass
    raise InvalidInput("after is not a valid cursor")


def window(first: int, after: str | None, cap: int) -> tuple[int, int]:
    """(limit, offset) for a page; refuses sizes outside 1..cap."""
    if not 1 <= first <= cap:
        raise InvalidInput(f"first must be 1..{cap}", argument="first")
    offset = decode_cursor(after) + 1 if after else 0
    return first, offset


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo

    @strawberry.field
    def nodes(self) -> list[T]:
        return [edge.node for edge in self.edges]

    @classmethod
    def of(cls, rows: Sequence[T], *, first: int, offset: int) -> Connection[T]:
        """`rows` was fetched with limit first + 1: the extra row only says a next page exists."""
        page = list(rows[:first])
        edges = [Edge(cursor=encode_cursor(offset + i), node=n) for i, n in enumerate(page)]
        return cls(
            edges=edges,
            page_info=PageInfo(
                has_next_page=len(rows) > first,
                has_previous_page=offset > 0,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )
