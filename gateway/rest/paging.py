"""REST paging parameters, capped by the same policy as GraphQL's `first` (gateway/policy.py).

The page-size cap is the deployment's (GATEWAY_MAX_PAGE_SIZE), known when the app is built, but
FastAPI fixes a parameter's constraints when its route is declared. So `Limit` declares only
`ge=1` and marks the parameter; `enforce_page_size`, a dependency of the whole REST app, refuses
a larger value with the 422 FastAPI gives for a declared `le`, and the OpenAPI document states
the cap as the parameter's maximum."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.params import Query as QueryParameter
from fastapi.routing import APIRoute
from pydantic import TypeAdapter, ValidationError

from gateway import policy
from gateway.config import Settings


class PageSize(QueryParameter):  # type: ignore[misc]  # pydantic marks FieldInfo final
    """A query parameter that is a page size (capped by Settings.max_page_size)."""


# Defaults stay per route: `limit: Limit = 20`.
Limit = Annotated[int, PageSize(ge=1, description="page size, 1..GATEWAY_MAX_PAGE_SIZE (100)")]
Skip = Annotated[int, Query(ge=0, le=policy.MAX_SKIP, description="items to skip")]

_INT = TypeAdapter(int)


def _page_size_parameters(dependant: Dependant) -> tuple[str, ...]:
    own = tuple(f.alias for f in dependant.query_params if isinstance(f.field_info, PageSize))
    return own + tuple(n for d in dependant.dependencies for n in _page_size_parameters(d))


def install(app: FastAPI, settings: Settings) -> None:
    """Call once every router is included: records which routes take a page size."""
    app.state.max_page_size = settings.max_page_size
    app.state.page_size_parameters = dict(_routes_with_a_page_size(app.routes))


def _routes_with_a_page_size(
    routes: Iterable[Any],
) -> Iterator[tuple[int, tuple[APIRoute, tuple[str, ...]]]]:
    # Keyed by id: an APIRoute is not hashable, and the routers hold their routes for good.
    for route in routes:
        included = getattr(route, "original_router", None)  # FastAPI's include_router
        if included is not None:
            yield from _routes_with_a_page_size(included.routes)
        elif isinstance(route, APIRoute) and (names := _page_size_parameters(route.dependant)):
            yield id(route), (route, names)


async def enforce_page_size(request: Request) -> None:
    """A dependency of every REST route (after routing, so the route is known)."""
    found = request.app.state.page_size_parameters.get(id(request.scope.get("route")))
    if found is None:
        return
    _, names = found
    cap: int = request.app.state.max_page_size
    for name in names:
        raw = request.query_params.get(name)
        if raw is None:
            continue
        try:
            value = _INT.validate_python(raw, strict=False)
        except ValidationError:
            continue  # not a number: the parameter's own validation answers it
        if value > cap:
            raise RequestValidationError(
                [
                    {
                        "type": "less_than_equal",
                        "loc": ("query", name),
                        "msg": f"Input should be less than or equal to {cap}",
                        "input": raw,
                        "ctx": {"le": cap},
                    }
                ]
            )


def document(app: FastAPI, openapi: dict[str, Any]) -> None:
    """States the cap as the maximum of every page-size parameter in the OpenAPI document."""
    cap: int = app.state.max_page_size
    routes: dict[int, tuple[APIRoute, Iterable[str]]] = app.state.page_size_parameters
    paths = openapi.get("paths", {})
    for route, names in routes.values():
        for method in route.methods or ():
            operation = paths.get(route.path_format, {}).get(method.lower(), {})
            for parameter in operation.get("parameters", ()):
                if parameter.get("in") == "query" and parameter.get("name") in names:
                    parameter.setdefault("schema", {})["maximum"] = cap
