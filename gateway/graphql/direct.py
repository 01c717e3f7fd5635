"""The GraphQL face's own path for the common request: a JSON POST of a document that has
already passed the static limits and validation.

Strawberry's view and `Schema.execute` cost about a quarter of a one-field query's CPU on
work that a cached, validated document does not need: per-request extension instances, a
context manager per lifecycle stage, request adapters, content-type parsing through
`email.message`. Here such a request runs the same steps the extensions run, in the same order
and through the same functions (gateway/graphql/errors.py, rate_limit.py, persisted.py,
limits.py, gateway/observability/graphql.py), and graphql-core's `execute` with the schema's
execution class, exactly as strawberry calls it.

Everything else is strawberry's: GET, WebSockets, batches, a body that is not a JSON object,
an unknown or refused persisted query, a document that is new or not cached (its first request
is validated there, rate limit first, so a refused caller still costs no validation), one that
failed a check, a subscription, a missing operation. Those tests have no side effects (a
persisted query's lookup only fills the cache), so a request that fails one is handed over
untouched; the rate limit, the first step with one, comes after them. With a resolver hook
(tracing) strawberry serves everything. tests/graphql/test_direct.py holds the two paths to the
same answers.
"""

from __future__ import annotations

import time
from inspect import isawaitable
from typing import TYPE_CHECKING, Any, Protocol

from cross_web import HTTPException
from graphql import ExecutionResult, GraphQLError, OperationType, execute
from graphql.execution.middleware import MiddlewareManager
from starlette.requests import Request
from starlette.responses import Response
from strawberry.execution import optimized_is_awaitable
from strawberry.http import GraphQLHTTPResponse

from gateway.graphql.documents import CACHED_QUERY_CHARS, parse_document, select_operation
from gateway.graphql.errors import client_errors
from gateway.graphql.limits import QueryLimits
from gateway.graphql.persisted import PersistedQueryError, register
from gateway.graphql.rate_limit import admission_error
from gateway.observability.graphql import operation_of, outcome_of, record

if TYPE_CHECKING:
    from gateway.config import Settings
    from gateway.runtime import Gateway


class View(Protocol):
    """What of the view (gateway/graphql/view.py) the direct path uses: its JSON rules, its
    context, its response."""

    schema: Any
    gateway: Gateway

    def decode_json(self, data: str | bytes) -> object: ...

    async def get_sub_response(self, request: Request) -> Response: ...

    async def get_context(self, request: Request, response: Any) -> Any: ...

    def create_response(self, response_data: Any, sub_response: Response) -> Response: ...


_RUNNABLE = (OperationType.QUERY, OperationType.MUTATION)


def _is_json(content_type: str | None) -> bool:
    # Case-sensitive, as strawberry's check is: "Application/JSON" is its 400.
    return content_type is not None and content_type.partition(";")[0].strip() == "application/json"


class DirectPost:
    def __init__(self, view: View, settings: Settings) -> None:
        schema: Any = view.schema
        self.view = view
        self.schema = schema._schema
        self.executor_class = schema.execution_context_class
        self.limits = QueryLimits.factory(settings)()
        self.hide_suggestions = settings.env == "production"
        self.apq = settings.graphql_apq

    async def serve(self, request: Request) -> Response | None:
        """The response, or None: strawberry serves this request (nothing has happened yet)."""
        headers = request.headers
        if not _is_json(headers.get("content-type")):
            return None
        try:
            data: Any = self.view.decode_json(await request.body())
        except (ValueError, HTTPException):  # not JSON, or refused by the view's checks on it
            return None
        if type(data) is not dict:
            return None
        query, variables = data.get("query"), data.get("variables")
        name, extensions = data.get("operationName"), data.get("extensions")
        if not (extensions is None or type(extensions) is dict):
            return None
        if extensions is not None and "persistedQuery" in extensions:
            query = await self._persisted(query, extensions["persistedQuery"])
        if (
            type(query) is not str
            or len(query) > CACHED_QUERY_CHARS
            or not (variables is None or type(variables) is dict)
            or not (name is None or type(name) is str)
        ):
            return None
        try:
            document = parse_document(query, self.limits.limits.max_tokens)
        except (GraphQLError, RecursionError):
            return None
        operation = select_operation(document, name)
        if operation is None or operation.operation not in _RUNNABLE:
            return None
        if name is None and operation.name is not None:
            name = operation.name.value  # strawberry's operation_name: the only operation's
        if not self.limits.passed(self.schema, document, name, variables or {}):
            return None

        sub_response = await self.view.get_sub_response(request)
        context = await self.view.get_context(request, sub_response)
        started = time.perf_counter()
        outcome = "error"
        try:
            result = await self._run(context, query, document, name, variables, extensions)
            outcome = outcome_of(result.errors)
        finally:
            record(operation_of(document, name), outcome, started)
        body: GraphQLHTTPResponse = {"data": result.data}
        if result.errors:
            body["errors"] = [error.formatted for error in result.errors]
        return self.view.create_response(body, sub_response)

    async def _persisted(self, query: object, extension: object) -> str | None:
        """An APQ request's text when its hash is known, or sent with the query it hashes;
        None for anything strawberry answers (APQ off, a miss, a refusal)."""
        store = self.view.gateway.persisted_queries
        if not self.apq or not (query is None or type(query) is str):
            return None
        try:
            return await store.resolve(query, extension)  # reads (and fills) the cache only
        except PersistedQueryError:
            return None

    async def _run(
        self,
        context: Any,
        query: str,
        document: Any,
        name: str | None,
        variables: dict[str, Any] | None,
        extensions: dict[str, Any] | None,
    ) -> ExecutionResult:
        refused = await admission_error(context, document, name)
        if refused is not None:
            return ExecutionResult(None, client_errors([refused], False, self.hide_suggestions))
        persisted = extensions.get("persistedQuery") if extensions is not None else None
        if persisted is not None:  # admitted and valid: as PersistedQueryRegistration
            await register(context.gateway, query, persisted)
        try:
            result = execute(
                self.schema,
                document,
                context_value=context,
                variable_values=variables,
                operation_name=name,
                middleware=MiddlewareManager(),
                executor_class=self.executor_class,
                is_awaitable=optimized_is_awaitable,  # type: ignore[arg-type]
                operation_extensions=extensions,
            )
            if isawaitable(result):
                result = await result
        except Exception as exc:  # as strawberry's execute: the operation's error
            error = (
                exc if isinstance(exc, GraphQLError) else GraphQLError(str(exc), original_error=exc)
            )
            result = ExecutionResult(None, [error])
        assert isinstance(result, ExecutionResult)
        if result.errors:
            result.errors = client_errors(result.errors, True, self.hide_suggestions)
        return result
