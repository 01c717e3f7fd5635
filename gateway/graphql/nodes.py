"""node(id:) and nodes(ids:): each type resolves through the same loader, so the same service
call and authorization, as its direct field (Query.subject, Query.session, Query.user,
Subject.analytics, ...). A refused or missing node is null with the error the direct field
would give; an id that is not a global id is BAD_USER_INPUT."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable

import strawberry

from gateway.analytics.types import subject_analytics
from gateway.errors import InvalidInput
from gateway.graphql.context import Info
from gateway.graphql.relay import Node, int_key, require_global_id
from gateway.sessions.types import message_node, quiz_attempt_node, session_node
from gateway.subjects.types import subject_node, subject_view
from gateway.users.types import user_node

MAX_NODES = 100


async def _analytics(info: Info, code: str) -> Node:
    return await subject_analytics(info, await subject_view(info, code))


def _user_id(key: str, argument: str) -> uuid.UUID:
    try:
        return uuid.UUID(key)
    except ValueError:
        raise InvalidInput(f"{argument} is not a valid id", argument=argument) from None


def _resolve(info: Info, value: str, argument: str) -> Awaitable[Node]:
    """Checks the id now (a bad one fails the whole field); fetching is awaited later."""
    type_name, key = require_global_id(value, argument)
    if type_name == "Subject":
        return subject_node(info, key)
    if type_name == "User":
        return user_node(info, _user_id(key, argument))
    if type_name == "ChatSession":
        return session_node(info, key)
    if type_name == "ChatMessage":
        return message_node(info, int_key(key, argument))
    if type_name == "QuizAttempt":
        return quiz_attempt_node(info, int_key(key, argument))
    return _analytics(info, key)


@strawberry.type
class NodeQuery:
    @strawberry.field(description="Any object by its global id; null (with an error) if refused.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        return await _resolve(info, id, "id")

    @strawberry.field(
        description=f"Objects by global id, in order (at most {MAX_NODES}); each refused or "
        "missing one is null with its own error."
    )
    def nodes(self, info: Info, ids: list[strawberry.ID]) -> list[Node | None]:
        if len(ids) > MAX_NODES:
            raise InvalidInput(f"at most {MAX_NODES} ids", argument="ids")
        # Awaitables, not values: graphql-core awaits each item on its own, so one refusal
        # nulls its item (with an error at its path), and the loaders batch the rest.
        return [_resolve(info, value, "ids") for value in ids]  # type: ignore[misc]
