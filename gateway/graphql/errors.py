"""GraphQL face of the error model: domain errors get `extensions.code`, the rest is masked."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from typing import Any

from graphql import ExecutionResult as GraphQLExecutionResult
from graphql.error import GraphQLError, GraphQLSyntaxError
from pydantic import ValidationError
from strawberry.extensions import SchemaExtension
from strawberry.types.execution import ExecutionResult

from gateway.config import Settings
from gateway.errors import translate

log = logging.getLogger("gateway.graphql")


def _with(error: GraphQLError, message: str, extensions: dict[str, Any]) -> GraphQLError:
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,
        extensions=extensions,
    )


def format_error(error: GraphQLError, executing: bool = False) -> GraphQLError:
    """`executing`: the document was valid and execution began. An error without a path from
    that phase is graphql-core refusing the variables' values: the caller's input is wrong."""
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        if isinstance(error, GraphQLSyntaxError):
            code = "GRAPHQL_PARSE_FAILED"
        elif executing and error.path is None:
            code = "BAD_USER_INPUT"
        else:
            code = "GRAPHQL_VALIDATION_FAILED"
        return _with(error, error.message, {"code": code, **(error.extensions or {})})
    if isinstance(original, ValidationError):
        details = [
            {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in original.errors()
        ]
        return _with(error, "Invalid input", {"code": "BAD_USER_INPUT", "details": details})
    domain = translate(original)
    if domain is not None:
        return _with(error, domain.detail, {"code": domain.code, **domain.extensions})
    log.error("unexpected error in resolver", exc_info=original)
    return _with(error, "Internal server error", {"code": "INTERNAL_SERVER_ERROR"})


class DomainErrors(SchemaExtension):
    """Errors in their client form (codes, masked internals). In production also without
    graphql-core's "Did you mean ...?" hints, so a typo cannot map the schema with
    introspection off (strawberry's disable_field_suggestions covers fields only)."""

    executing = False
    streamed = False

    def __init__(self, hide_suggestions: bool = False) -> None:
        self.hide_suggestions = hide_suggestions

    @classmethod
    def factory(cls, settings: Settings) -> Callable[[], DomainErrors]:
        hide = settings.env == "production"
        return lambda: cls(hide)

    def on_execute(self) -> Iterator[None]:
        self.executing = True
        yield

    def on_stream_result(self, result: Any) -> Iterator[None]:
        # WebSocket operations send each result as it is yielded, before on_operation ends.
        self.streamed = True
        if getattr(result, "errors", None):
            result.errors = [format_error(e, self.executing) for e in result.errors]
        yield

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if not isinstance(result, (GraphQLExecutionResult, ExecutionResult)) or not result.errors:
            return
        if self.streamed:  # formatted already, as each result was sent
            if self.hide_suggestions:
                hide_suggestions(result.errors)
            return
        result.errors = client_errors(result.errors, self.executing, self.hide_suggestions)


def client_errors(
    errors: list[GraphQLError], executing: bool, hide: bool = False
) -> list[GraphQLError]:
    """An operation's errors in their client form; `hide`: without suggestion hints."""
    if hide:
        hide_suggestions(errors)
    return [format_error(e, executing) for e in errors]


def hide_suggestions(errors: list[GraphQLError]) -> None:
    for error in errors:
        error.message = without_suggestions(error.message)


# graphql-core appends its hints at the end of a message: " Did you mean 'x'?", " Did you mean
# the enum value 'ADMIN'?", " Did you mean 'a', 'b', or 'c'?" (fields, arguments, types, enum
# values, input fields, directives; in validation and in variable coercion alike).
_SUGGESTION = re.compile(r"\s*Did you mean .*$", re.DOTALL)


def without_suggestions(message: str) -> str:
    return _SUGGESTION.sub("", message)
