"""The rate limit on every GraphQL operation (gateway/ratelimit.py holds the limiter)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    SelectionSetNode,
)
from strawberry.extensions import SchemaExtension

from gateway.errors import RateLimited
from gateway.graphql.documents import derived, select_operation
from gateway.ratelimit import Category, operation_counts


def root_fields(document: DocumentNode, operation_name: str | None) -> list[str]:
    """Field names the operation will execute at its root, once per response key, with
    fragments expanded (a spread repeated at the root still executes each field once)."""
    operation = select_operation(document, operation_name)
    if operation is None:
        return []
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    keys: dict[str, str] = {}
    spread: set[str] = set()

    def walk(selection_set: SelectionSetNode) -> None:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                key = (selection.alias or selection.name).value
                keys.setdefault(key, selection.name.value)
            elif isinstance(selection, InlineFragmentNode):
                walk(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name not in spread and name in fragments:
                    spread.add(name)
                    walk(fragments[name].selection_set)

    walk(operation.selection_set)
    return list(keys.values())


def cached_root_fields(document: DocumentNode, operation_name: str | None) -> list[str]:
    memo = derived(document)
    if memo is None:
        return root_fields(document, operation_name)
    key = ("root fields", operation_name)
    if key not in memo:
        memo[key] = root_fields(document, operation_name)
    fields: list[str] = memo[key]
    return fields


class GraphQLRateLimit(SchemaExtension):
    """Counts every operation once it is parsed (token-bounded, cheap) and before anything
    expensive: the static limits and graphql-core's validation come after it (QueryLimits is
    listed after this extension), so a refused caller costs no validation. Over the limit the
    operation ends with a RATE_LIMITED error (extensions.retryAfter, seconds)."""

    async def on_validate(self) -> AsyncIterator[None]:
        ec = self.execution_context
        context: Any = ec.context
        document = ec.graphql_document
        if document is not None and context is not None and not ec.pre_execution_errors:
            error = await admission_error(context, document, ec.operation_name)
            if error is not None:
                ec.pre_execution_errors = [error]
        yield


async def admission_error(
    context: Any, document: DocumentNode, operation_name: str | None
) -> GraphQLError | None:
    """Counts the operation against the caller's limits: None when admitted, else the
    RATE_LIMITED error (extensions.retryAfter, seconds)."""
    counts = operation_counts(cached_root_fields(document, operation_name))
    if getattr(context, "admitted", False):  # a WebSocket operation, counted already
        counts.pop(Category.DEFAULT, None)
    try:
        await context.gateway.rate_limits.check(context.request.scope, context.token, counts)
    except RateLimited as exc:
        return GraphQLError(exc.detail, extensions={"code": exc.code, **exc.extensions})
    return None
