"""The /metrics endpoint and the routes whose series are created at start."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import Response

from gateway.observability.metrics import registry


def known_routes(rest: FastAPI) -> list[tuple[str, str]]:
    """(method, route template) of /graphql and of every REST route that the OpenAPI schema
    lists. The REST app is mounted at "/" and its routers have no include prefix, so a
    route's own path is the template the middleware records."""
    found = [("GET", "/graphql"), ("POST", "/graphql"), ("GET", "/metrics")]

    def walk(routes: Iterable[Any]) -> None:
        for route in routes:
            included = getattr(route, "original_router", None)  # FastAPI's include_router
            if included is not None:
                walk(included.routes)
                continue
            path = getattr(route, "path_format", None)
            methods = getattr(route, "methods", None) or ()
            if isinstance(path, str) and getattr(route, "include_in_schema", False):
                found.extend((method, path) for method in sorted(methods) if method != "HEAD")

    walk(rest.router.routes)
    return found


async def metrics_endpoint(_: Request) -> Response:
    return Response(generate_latest(registry()), media_type=CONTENT_TYPE_LATEST)
