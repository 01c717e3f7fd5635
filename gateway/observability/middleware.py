"""Plain ASGI middleware: request id in and out, HTTP metrics by route template, access log."""

from __future__ import annotations

import logging
import time

from starlette.datastructures import MutableHeaders
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.observability import metrics
from gateway.observability.logging import new_request_id, request_id

access_log = logging.getLogger("gateway.access")
REQUEST_ID_HEADER = "X-Request-ID"
# Clients choose the method token: anything unusual is one label value, not a new series.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_template(scope: Scope) -> str:
    """The matched route's path template (`/users/{username}`), never the raw path.

    Starlette records the innermost matched route in scope["route"] (also for the FastAPI
    app mounted at "/": it shares the scope dict). A Mount that is still the innermost route
    means its inner router matched nothing, unless it serves files (StaticFiles)."""
    route = scope.get("route")
    if route is None:
        return "unmatched"
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    if not isinstance(path, str):
        return "unmatched"
    if isinstance(route, Mount):
        if route.routes:  # a router: nothing inside matched
            return "unmatched"
        return f"{path}/{{path}}"
    return path or "/"


class RequestObservability:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        rid = new_request_id(headers.get(b"x-request-id", b"").decode("latin-1"))
        token = request_id.set(rid)
        try:
            if scope["type"] == "websocket":
                await self.app(scope, receive, send)
            else:
                await self._http(scope, receive, send, rid)
        finally:
            request_id.reset(token)

    async def _http(self, scope: Scope, receive: Receive, send: Send, rid: str) -> None:
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = rid
            await send(message)

        metrics.HTTP_IN_PROGRESS.inc()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            metrics.HTTP_IN_PROGRESS.dec()
            elapsed = time.perf_counter() - started
            method = scope.get("method", "GET")
            method = method if method in METHODS else "other"
            route = route_template(scope)
            metrics.child(metrics.HTTP_REQUESTS, method, route, str(status)).inc()
            metrics.child(metrics.HTTP_LATENCY, method, route).observe(elapsed)
            access_log.info(
                "%s %s %s %.1fms",
                method,
                scope.get("path", ""),
                status,
                elapsed * 1000,
                extra={"route": route, "status": status, "duration_ms": round(elapsed * 1000, 2)},
            )
