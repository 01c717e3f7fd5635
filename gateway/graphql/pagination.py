"""Relay-style connections over keyset (value-based) cursors, with a hard cap on page size.

A cursor carries the sort key of the row it points at (e.g. the session's last activity and
id), so the next page is "rows after these values": inserts and reorders between two fetches
never repeat a row, which offsets did. Cursors are opaque to clients and signed (HMAC-SHA256
with a key derived from the signing secret): a tampered cursor, or one taken from another
connection, is BAD_USER_INPUT before any statement runs."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Generic, TypeVar

import strawberry

from gateway.errors import InvalidInput
from gateway.graphql.context import Info

T = TypeVar("T")
INVALID = "after is not a valid cursor"
_MAX_CURSOR = 1024


@lru_cache(maxsize=4)
def _key(secret: str) -> bytes:
    return hashlib.sha256(b"gateway graphql cursor\x00" + secret.encode()).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime) else value


@dataclass(frozen=True, slots=True)
class Keyset:
    """One connection's cursor format: its name (a cursor of another connection is refused)
    and how to read back each value of the sort key."""

    kind: str
    parsers: tuple[Callable[[Any], Any], ...]

    def encode(self, secret: str, values: Sequence[Any]) -> str:
        payload = json.dumps([self.kind, *map(_plain, values)], separators=(",", ":")).encode()
        mac = hmac.new(_key(secret), payload, hashlib.sha256).digest()[:16]
        return f"{_b64(payload)}.{_b64(mac)}"

    def decode(self, secret: str, cursor: str) -> tuple[Any, ...]:
        try:
            if len(cursor) > _MAX_CURSOR:
                raise ValueError
            body, _, mac = cursor.partition(".")
            payload = _unb64(body)
            expected = hmac.new(_key(secret), payload, hashlib.sha256).digest()[:16]
            if not hmac.compare_digest(expected, _unb64(mac)):
                raise ValueError
            kind, *values = json.loads(payload)
            if kind != self.kind or len(values) != len(self.parsers):
                raise ValueError
            return tuple(parse(v) for parse, v in zip(self.parsers, values, strict=True))
        except (ValueError, TypeError, binascii.Error, UnicodeError):
            raise InvalidInput(INVALID, argument="after") from None


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError
    return value


def _int(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError
    return value


def _time(value: Any) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(_text(value))
    if parsed.tzinfo is None:
        raise ValueError
    return parsed


# The connections and their sort keys (see each service for the matching predicate).
SUBJECTS = Keyset("subjects", (_text,))  # code
SESSIONS = Keyset("sessions", (_time, _text))  # last activity (desc), id
MESSAGES = Keyset("messages", (_int,))  # id
QUIZ_ATTEMPTS = Keyset("quizAttempts", (_time, _int))  # created_at (desc), id (desc)
USERS = Keyset("users", (_time, _text))  # created_at, username
STUDENTS = Keyset("students", (_text,))  # username (Subject.students)
MY_STUDENTS = Keyset("myStudents", (_text,))  # username
STUDENT_PROGRESS = Keyset("studentProgress", (_text,))  # username


@dataclass(frozen=True, slots=True)
class Page:
    """What a connection field was asked for: `size` rows after the `after` sort key."""

    keyset: Keyset
    secret: str
    size: int
    after: tuple[Any, ...] | None

    @property
    def fetch(self) -> int:
        """Rows to read: one more than the page says whether a next page exists."""
        return self.size + 1

    def cursor(self, values: Sequence[Any]) -> str:
        return self.keyset.encode(self.secret, values)


def page(
    info: Info, keyset: Keyset, first: int, after: str | None, *, cap: int | None = None
) -> Page:
    """Validates the page size (1..cap; by default GATEWAY_MAX_PAGE_SIZE, which caps REST's
    `limit` too) and the cursor."""
    settings = info.context.gateway.settings
    cap = settings.max_page_size if cap is None else cap
    if not 1 <= first <= cap:
        raise InvalidInput(f"first must be 1..{cap}", argument="first")
    secret = settings.signing_secret
    return Page(keyset, secret, first, keyset.decode(secret, after) if after else None)


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
    # Edges and cursors are built only when the query selects them: a page read through
    # `nodes` signs no cursor at all.
    items: strawberry.Private[list[T]]
    key: strawberry.Private[Callable[[T], Sequence[Any]]]
    more: strawberry.Private[bool]
    request: strawberry.Private[Page]

    @strawberry.field
    def edges(self) -> list[Edge[T]]:
        return [Edge(cursor=self.request.cursor(self.key(n)), node=n) for n in self.items]

    @strawberry.field
    def page_info(self) -> PageInfo:
        first = self.items[0] if self.items else None
        last = self.items[-1] if self.items else None
        return PageInfo(
            has_next_page=self.more,
            has_previous_page=self.request.after is not None,
            start_cursor=self.request.cursor(self.key(first)) if first is not None else None,
            end_cursor=self.request.cursor(self.key(last)) if last is not None else None,
        )

    @strawberry.field
    def nodes(self) -> list[T]:
        return self.items

    @classmethod
    def of(
        cls, rows: Sequence[T], request: Page, key: Callable[[T], Sequence[Any]]
    ) -> Connection[T]:
        """`rows` was fetched with limit request.fetch: the extra row only says a next page
        exists. `key` gives a node's sort-key values, the content of its cursor."""
        return cls(
            items=list(rows[: request.size]),
            key=key,
            more=len(rows) > request.size,
            request=request,
        )
