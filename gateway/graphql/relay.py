"""Relay global object identification, written by hand (not strawberry.relay): a type's `id`
is a plain value computed when the type is built, so a page of nodes costs no resolver call
per id, and `node(id:)` resolves through the same loaders (the same service calls) as the
direct fields.

A global id is base64("<Type>:<key>"), the format strawberry.relay and graphql-relay-js use:
`Subject:INF001`, `User:<uuid>`, `ChatSession:<session uuid>`, `ChatMessage:17`,
`QuizAttempt:3`, `SubjectAnalytics:INF001`. Identifier arguments take either the global id of
their type or its natural key (subject code, username, session id)."""

from __future__ import annotations

import base64
import binascii
import uuid

import strawberry

from gateway.errors import InvalidInput

NODE_TYPES = frozenset(
    {"User", "Subject", "ChatSession", "ChatMessage", "QuizAttempt", "SubjectAnalytics"}
)
_MAX_ID = 512


@strawberry.interface(description="An object with a global id (Relay object identification).")
class Node:
    id: strawberry.ID = strawberry.field(
        description="Opaque and unique across types; node(id:) fetches the object by it."
    )


def global_id(type_name: str, key: object) -> strawberry.ID:
    return strawberry.ID(base64.b64encode(f"{type_name}:{key}".encode()).decode())


def parse_global_id(value: str) -> tuple[str, str] | None:
    """(type, key) when `value` is the global id of a node type, else None (a natural key)."""
    if len(value) > _MAX_ID:
        return None
    try:
        raw = base64.b64decode(value, validate=True)
        text = raw.decode()
    except (binascii.Error, ValueError):
        return None
    type_name, sep, key = text.partition(":")
    if not sep or not key or type_name not in NODE_TYPES:
        return None
    return type_name, key


def require_global_id(value: str, argument: str = "id") -> tuple[str, str]:
    parsed = parse_global_id(value)
    if parsed is None:
        raise InvalidInput(f"{argument} is not a global id", argument=argument)
    return parsed


def key_of(value: str, type_name: str, argument: str) -> str:
    """An identifier argument: the global id of a `type_name`, or that type's natural key.
    The global id of another type is refused."""
    parsed = parse_global_id(value)
    if parsed is None:
        return value
    found, key = parsed
    if found != type_name:
        raise InvalidInput(
            f"{argument} is the id of a {found}, not of a {type_name}", argument=argument
        )
    return key


def optional_key(value: str | None, type_name: str, argument: str) -> str | None:
    return None if value is None else key_of(value, type_name, argument)


UserRef = uuid.UUID | str  # a user's id (from a global id) or username


def user_ref(value: str, argument: str) -> UserRef:
    """A user argument: the user's global id (-> their UUID) or their username."""
    parsed = parse_global_id(value)
    if parsed is None:
        return value
    found, key = parsed
    if found != "User":
        raise InvalidInput(f"{argument} is the id of a {found}, not of a User", argument=argument)
    try:
        return uuid.UUID(key)
    except ValueError:
        raise InvalidInput(f"{argument} is not a valid User id", argument=argument) from None


def int_key(key: str, argument: str) -> int:
    if not key.isdigit() or len(key) > 18:
        raise InvalidInput(f"{argument} is not a valid id", argument=argument)
    return int(key)
