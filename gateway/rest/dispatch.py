"""The REST face's request path: FastAPI declares the routes, this module serves them.

FastAPI stays the REST face's declaration (parameters, bodies, response models, OpenAPI, /docs)
and serves whatever this module does not take. Its per-request machinery (its own router, three
exit stacks, a dependency solver that re-derives every dependency's kind and cache key on every
request, telemetry hooks) cost about a third of a one-statement GET's CPU. Here each route is
compiled once, at start-up, into a `RoutePlan`; a request is then matched against the same
regular expressions, its dependencies are called in FastAPI's order with FastAPI's per-request
cache, its parameters and body are validated by FastAPI's own functions (so the 422s are the
same), its response is serialized as FastAPI serializes it, and errors go to the REST app's own
exception handlers.

A route is taken only when its plan covers everything it uses (coroutine dependencies without
scopes, a JSON body or none, the default response class); anything else (the token form, the
docs, 404 and 405, dependency overrides) goes to the FastAPI app unchanged.
`tests/rest/test_dispatch.py` runs the same requests through both paths and compares them.
"""

from __future__ import annotations

import email.message
import inspect
import json
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from fastapi import FastAPI
from fastapi.datastructures import DefaultPlaceholder
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import request_body_to_args, request_params_to_args
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError, ResponseValidationError
from fastapi.params import Form
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from fastapi.utils import is_body_allowed_for_status_code
from pydantic_core import PydanticUndefined
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from gateway.rest.routing import in_request_session

Undefined: Any = PydanticUndefined  # FastAPI's "no body"
ExceptionHandler = Callable[[Request, Exception], Response | Awaitable[Response]]


class NotCovered(Exception):
    """A route uses something a plan does not cover: FastAPI serves it."""


@dataclass(frozen=True, slots=True)
class DependencyPlan:
    """One node of a route's dependency tree, with what FastAPI re-derives per request."""

    call: Callable[..., Awaitable[Any]]
    name: str | None
    cache_key: tuple[Any, ...]
    use_cache: bool
    dependencies: tuple[DependencyPlan, ...]
    path_params: Sequence[Any]
    query_params: Sequence[Any]
    header_params: Sequence[Any]
    cookie_params: Sequence[Any]
    body_params: Sequence[Any]
    request_param_names: tuple[str, ...]

    @classmethod
    def of(cls, dependant: Dependant) -> DependencyPlan:
        call = dependant.call
        if call is None or not _is_coroutine_callable(call):
            raise NotCovered(f"{call!r} is not a coroutine function")
        unsupported = (
            dependant.websocket_param_name,
            dependant.response_param_name,
            dependant.background_tasks_param_name,
            dependant.security_scopes_param_name,
            dependant.own_oauth_scopes,
            dependant.parent_oauth_scopes,
            dependant.concurrency,
        )
        if any(unsupported):
            raise NotCovered(f"{call!r} uses a feature the plan does not cover")
        return cls(
            call=call,
            name=dependant.name,
            # FastAPI's key for a dependency without OAuth scopes (none is a generator, so its
            # computed scope is its declared one)
            cache_key=(call, (), dependant.scope or ""),
            use_cache=dependant.use_cache,
            dependencies=tuple(cls.of(sub) for sub in dependant.dependencies),
            path_params=tuple(dependant.path_params),
            query_params=tuple(dependant.query_params),
            header_params=tuple(dependant.header_params),
            cookie_params=tuple(dependant.cookie_params),
            body_params=tuple(dependant.body_params),
            request_param_names=tuple(
                name
                for name in (dependant.http_connection_param_name, dependant.request_param_name)
                if name
            ),
        )

    async def solve(
        self,
        request: Request,
        body: Any,
        embed_body_fields: bool,
        cache: dict[tuple[Any, ...], Any],
        errors: list[Any],
    ) -> dict[str, Any]:
        """FastAPI's solve_dependencies for what the plan covers: the same order, cache and
        error collection (a dependency whose own parameters fail is not called)."""
        values: dict[str, Any] = {}
        for sub in self.dependencies:
            found: list[Any] = []
            sub_values = await sub.solve(request, body, embed_body_fields, cache, found)
            if found:
                errors.extend(found)
                continue
            if sub.use_cache and sub.cache_key in cache:
                solved = cache[sub.cache_key]
            else:
                solved = await sub.call(**sub_values)
            if sub.name is not None:
                values[sub.name] = solved
            cache.setdefault(sub.cache_key, solved)
        for fields, received in self._parameter_sources(request):
            if fields:
                found_values, found_errors = request_params_to_args(fields, received)
                values.update(found_values)
                errors.extend(found_errors)
        if self.body_params:
            body_values, body_errors = await request_body_to_args(
                body_fields=list(self.body_params),
                received_body=body,
                embed_body_fields=embed_body_fields,
            )
            values.update(body_values)
            errors.extend(body_errors)
        for name in self.request_param_names:
            values[name] = request
        return values

    def _parameter_sources(self, request: Request) -> Iterator[tuple[Sequence[Any], Any]]:
        yield self.path_params, request.path_params
        if self.query_params:
            yield self.query_params, request.query_params
        if self.header_params:
            yield self.header_params, request.headers
        if self.cookie_params:
            yield self.cookie_params, request.cookies


def _is_coroutine_callable(call: Any) -> bool:
    if inspect.iscoroutinefunction(call):
        return True
    return not inspect.isroutine(call) and inspect.iscoroutinefunction(
        getattr(call, "__call__", None)  # noqa: B004  (a dependency instance, e.g. a scheme)
    )


@lru_cache(maxsize=64)
def _is_json(content_type: str) -> bool:
    """FastAPI's test of a request's content type, remembered per header value."""
    message = email.message.Message()
    message["content-type"] = content_type
    if message.get_content_maintype() != "application":
        return False
    subtype = message.get_content_subtype()
    return subtype == "json" or subtype.endswith("+json")


class RoutePlan:
    """One REST route as compiled at start-up."""

    def __init__(self, context: RouteContext) -> None:
        route = context.original_route
        dependant: Dependant | None = getattr(context, "dependant", None)
        if not isinstance(route, APIRoute) or dependant is None or dependant.call is None:
            raise NotCovered("not an API route")
        streamed = getattr(context, "is_sse_stream", False) or getattr(
            context, "is_json_stream", False
        )
        if streamed or getattr(context, "max_body_size", None):
            raise NotCovered("a streamed response or its own body limit")
        body_field = context.body_field
        if body_field is not None and isinstance(body_field.field_info, Form):
            raise NotCovered("a form body")
        response_class = context.response_class
        if not isinstance(response_class, DefaultPlaceholder):
            raise NotCovered("its own response class")
        strict = context.strict_content_type
        self.route = route
        self.endpoint = dependant.call
        self.path_regex = context.path_regex
        self.param_convertors = context.param_convertors
        self.methods: frozenset[str] = frozenset(context.methods or ())
        self.plan = DependencyPlan.of(dependant)
        self.has_body = body_field is not None
        self.embed_body_fields: bool = context._embed_body_fields
        self.strict_content_type: bool = (
            strict.value if isinstance(strict, DefaultPlaceholder) else strict
        )
        self.response_class: type[Response] = response_class.value
        self.response_field = context.response_field
        self.status_code: int | None = context.status_code
        self.serialize_options: dict[str, Any] = {
            "include": context.response_model_include,
            "exclude": context.response_model_exclude,
            "by_alias": context.response_model_by_alias,
            "exclude_unset": context.response_model_exclude_unset,
            "exclude_defaults": context.response_model_exclude_defaults,
            "exclude_none": context.response_model_exclude_none,
        }

    def match(self, path: str) -> dict[str, Any] | None:
        found = self.path_regex.match(path)
        if found is None:
            return None
        params = found.groupdict()
        for key, value in params.items():
            params[key] = self.param_convertors[key].convert(value)
        return params

    async def respond(self, request: Request) -> Response:
        body = await self._body(request) if self.has_body else Undefined
        errors: list[Any] = []
        values = await self.plan.solve(request, body, self.embed_body_fields, {}, errors)
        if errors:
            raise RequestValidationError(errors, body=None if body is Undefined else body)
        content = await self.endpoint(**values)
        if isinstance(content, Response):
            return content
        response = self._serialize(content)
        if not is_body_allowed_for_status_code(response.status_code):
            response.body = b""
        return response

    def _serialize(self, content: Any) -> Response:
        status = self.status_code or 200  # what the default response class would pick
        field = self.response_field
        if field is None:
            return self.response_class(jsonable_encoder(content), status_code=status)
        value, errors = field.validate(content, {}, loc=("response",))
        if errors:
            raise ResponseValidationError(errors=errors, body=content)
        data = field.serialize_json(value, **self.serialize_options)
        return Response(content=data, media_type="application/json", status_code=status)

    async def _body(self, request: Request) -> Any:
        """The body as FastAPI reads it: JSON when the content type says so, else the bytes."""
        try:
            raw = await request.body()
            if not raw:
                return Undefined
            content_type = request.headers.get("content-type")
            if content_type is None:
                return raw if self.strict_content_type else await request.json()
            return await request.json() if _is_json(content_type) else raw
        except json.JSONDecodeError as error:
            raise RequestValidationError(
                [
                    {
                        "type": "json_invalid",
                        "loc": ("body", error.pos),
                        "msg": "JSON decode error",
                        "input": {},
                        "ctx": {"error": error.msg},
                    }
                ],
                body=error.doc,
            ) from error
        except HTTPException:
            raise
        except Exception as error:
            raise HTTPException(400, "There was an error parsing the body") from error


class RestDispatch:
    """The REST face as mounted: routes with a plan are served here, everything else by the
    FastAPI app (which also keeps its own order: a route it would reach first is its)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.handlers: Mapping[Any, ExceptionHandler] = app.exception_handlers
        self.routes: list[tuple[Any, RoutePlan | None]] = []
        for context in iter_route_contexts(app.routes):
            try:
                plan: RoutePlan | None = RoutePlan(context)
            except NotCovered:
                plan = None
            self.routes.append((context.path_regex, plan))

    def plans(self) -> list[RoutePlan]:
        return [plan for _, plan in self.routes if plan is not None]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self.app.dependency_overrides:
            found = self._match(scope)
            if found is not None:
                await self._serve(found[0], found[1], scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _match(self, scope: Scope) -> tuple[RoutePlan, dict[str, Any]] | None:
        """The first route whose path and method match, if it has a plan; None when FastAPI
        should decide (no route, a method that no route takes, a route without a plan)."""
        path = _route_path(scope)
        method = scope["method"]
        for regex, plan in self.routes:
            if regex is None:
                continue
            if plan is None:
                if regex.match(path):
                    return None
                continue
            if method in plan.methods and (params := plan.match(path)) is not None:
                return plan, params
        return None

    async def _serve(
        self, plan: RoutePlan, params: dict[str, Any], scope: Scope, receive: Receive, send: Send
    ) -> None:
        # What FastAPI's app and router put in the scope (the rate limit and the page-size
        # check read the route; the route's dependencies read the app's state).
        scope["app"] = self.app
        scope["router"] = self.app.router
        scope["route"] = plan.route
        scope["endpoint"] = plan.endpoint
        scope["path_params"] = {**scope.get("path_params", {}), **params}
        request = Request(scope, receive, send)
        try:
            response = await in_request_session(request, plan.respond)
        except Exception as error:
            handler = self._handler(error)
            if handler is None:
                raise  # gateway.middleware.CatchAll: logged once, a 500 in the same shape
            handled = handler(request, error)
            response = await handled if inspect.isawaitable(handled) else handled
        await response(scope, receive, send)

    def _handler(self, error: Exception) -> ExceptionHandler | None:
        """Starlette's lookup: an HTTPException's status first, then the class hierarchy; a
        handler for bare Exception is the server-error path, which CatchAll already is."""
        if isinstance(error, HTTPException) and error.status_code in self.handlers:
            return self.handlers[error.status_code]
        for cls in type(error).__mro__:
            if cls is Exception:
                return None
            if cls in self.handlers:
                return self.handlers[cls]
        return None


def _route_path(scope: Scope) -> str:
    """The path below the mount (Starlette's get_route_path)."""
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if not root_path or not path.startswith(root_path):
        return path
    if path == root_path:
        return ""
    return path[len(root_path) :] if path[len(root_path)] == "/" else path
