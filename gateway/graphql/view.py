"""The /graphql endpoint: strawberry's ASGI view with our context.

Request parsing is hardened here: JSON is decoded with orjson (invalid UTF-8 is a 400) and its
nesting is bounded; batched (JSON array) requests are refused with 400 because batching is off;
automatic persisted queries are resolved; and every refusal before execution is a JSON body
`{"errors": [{"message", "extensions": {"code"}}]}` with a 4xx status, never a 500.

A JSON POST of a document that has already passed the limits and validation is served by
DirectPost (gateway/graphql/direct.py) with the same rules, and everything else by strawberry.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLRequestData
from strawberry.http.base import BaseRequestProtocol
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL
from strawberry.types.unset import UNSET, UnsetType

from gateway.auth.tokens import bearer_token
from gateway.errors import DomainError
from gateway.graphql.context import Context
from gateway.graphql.direct import DirectPost
from gateway.graphql.persisted import PersistedQueryError
from gateway.graphql.schema import build_schema
from gateway.graphql.ws import (
    LegacyWSHandler,
    SocketContext,
    TextWebSocketAdapter,
    TransportWSHandler,
)

if TYPE_CHECKING:
    from gateway.runtime import Gateway

_CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}


def nesting_exceeds(value: object, limit: int) -> bool:
    """Whether a decoded JSON value nests deeper than `limit` (iterative: no recursion)."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if not isinstance(item, list):
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in item)
    return False


def error_response(message: str, code: str, status: int) -> JSONResponse:
    headers = {"Cache-Control": "private, no-cache, must-revalidate"} if status == 200 else None
    body = {"errors": [{"message": message, "extensions": {"code": code}}]}
    return JSONResponse(body, status_code=status, headers=headers)


class GatewayGraphQL(GraphQL[Context, None]):
    websocket_adapter_class = TextWebSocketAdapter
    graphql_transport_ws_handler_class = TransportWSHandler
    graphql_ws_handler_class = LegacyWSHandler

    def __init__(self, gateway: Gateway) -> None:
        settings = gateway.settings
        ide = settings.graphql_ide
        if ide is None:
            ide = settings.env != "production"
        legacy_ws = settings.graphql_ws_legacy
        if legacy_ws is None:
            legacy_ws = settings.env != "production"
        protocols = (GRAPHQL_TRANSPORT_WS_PROTOCOL,) + ((GRAPHQL_WS_PROTOCOL,) if legacy_ws else ())
        super().__init__(
            build_schema(settings),
            graphql_ide="graphiql" if ide else None,
            allow_queries_via_get=True,
            subscription_protocols=protocols,
            # The older protocol's keep-alive ("ka"), which its clients expect behind proxies.
            keep_alive=True,
            keep_alive_interval=20,
            multipart_uploads_enabled=False,
            max_subscriptions_per_connection=settings.ws_max_operations_per_socket,
            allowed_origins=tuple(settings.cors_origins),
            connection_init_wait_timeout=timedelta(seconds=10),
        )
        self.gateway = gateway
        self.max_json_depth = settings.graphql_max_json_depth
        # Our own path for JSON POSTs of validated documents (gateway/graphql/direct.py); off
        # when a resolver hook (tracing) or an HTTP streaming transport is configured.
        self.direct = (
            DirectPost(self, settings)
            if not settings.otel_enabled and not self._stream_transport_map
            else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or self.direct is None:
            return await super().__call__(scope, receive, send)
        request = Request(scope, receive)
        response = await self.direct.serve(request)
        if response is None:  # strawberry's path, as super().__call__ takes it
            try:
                response = await self.run(request)
            except HTTPException as exc:
                response = PlainTextResponse(exc.reason, status_code=exc.status_code)
        await response(scope, receive, send)

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        cls = SocketContext if isinstance(request, WebSocket) else Context
        return cls(
            gateway=self.gateway,
            request=request,
            response=response,
            token=bearer_token(request.headers.get("authorization")),
        )

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """connection_init: authenticate the socket (see gateway/graphql/ws.py); a refusal
        closes it with 4403 (graphql-transport-ws) or sends connection_error (graphql-ws)."""
        assert isinstance(context, SocketContext)
        try:
            await context.open()
        except DomainError as exc:
            raise ConnectionRejectionError(
                {"message": exc.detail, "extensions": {"code": exc.code, **exc.extensions}}
            ) from exc
        return await super().on_ws_connect(context)

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        try:
            return await super().run(request, context, root_value)
        except PersistedQueryError as exc:
            return error_response(exc.message, exc.code, exc.status)
        except HTTPException as exc:
            code = _CODES.get(exc.status_code, "BAD_REQUEST")
            return error_response(exc.reason, code, exc.status_code)

    def decode_json(self, data: str | bytes) -> object:
        value = orjson.loads(data)  # orjson.JSONDecodeError is a json.JSONDecodeError: a 400
        if not isinstance(value, (dict, list)):
            raise HTTPException(400, "Expected a JSON object")
        if nesting_exceeds(value, self.max_json_depth):
            raise HTTPException(400, f"JSON nested deeper than {self.max_json_depth} levels")
        return value

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)  # strawberry's default is the stdlib json module: 4x slower

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        # Our page (gateway/graphql/ide.py): assets from this server, not strawberry's CDN.
        return self.gateway.graphiql_assets.page(request)

    def should_render_graphql_ide(self, request: BaseRequestProtocol) -> bool:
        # A persisted-query GET carries no `query` either: it is an operation, not a browser.
        return super().should_render_graphql_ide(request) and (
            "extensions" not in request.query_params
        )

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        data = await super().parse_http_body(request)
        if isinstance(data, list) or not data.extensions or "persistedQuery" not in data.extensions:
            return data
        if not self.gateway.settings.graphql_apq:
            raise PersistedQueryError(
                "PersistedQueryNotSupported", "PERSISTED_QUERY_NOT_SUPPORTED", 400
            )
        store = self.gateway.persisted_queries
        data.query = await store.resolve(data.query, data.extensions["persistedQuery"])
        return data
