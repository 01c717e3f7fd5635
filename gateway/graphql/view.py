"""The /graphql endpoint: strawberry's ASGI view with our context.

Request parsing is hardened here: JSON is decoded with orjson (invalid UTF-8 is a 400) and its
nesting is bounded; batched (JSON array) requests are refused with 400 because batching is off;
automatic persisted queries are resolved; and every refusal before execution is a JSON body
`{"errors": [{"message", "extensions": {"code"}}]}` with a 4xx status, never a 500.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.websockets import WebSocket, WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLRequestData
from strawberry.http.base import BaseRequestProtocol
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UNSET, UnsetType

from gateway.errors import DomainError
from gateway.graphql.context import Context, bearer_token
from gateway.graphql.persisted import PersistedQueryError
from gateway.graphql.schema import build_schema

if TYPE_CHECKING:
    from gateway.app import Gateway

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


@dataclass
class WsContext(Context):
    """A websocket's context lives as long as the socket: the caller is fixed at
    connection_init, and subscriptions end when the token that opened it expires."""

    connection_params: dict[str, Any] | None = None
    token_expires_at: float | None = None


def _token_from(params: dict[str, Any]) -> str | None:
    for key in ("Authorization", "authorization"):
        value = params.get(key)
        if isinstance(value, str):
            return bearer_token(value)
    token = params.get("token")
    return token if isinstance(token, str) and token else None


class TextWebSocketAdapter(ASGIWebSocketAdapter):
    """WebSocket messages go out as text frames: graphql-ws, Apollo, urql, GraphiQL and gql
    reject binary frames (the HTTP face keeps orjson's bytes)."""

    async def send_json(self, message: Mapping[str, object]) -> None:
        try:
            await self.ws.send_text(orjson.dumps(message).decode())
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc


class GatewayGraphQL(GraphQL[Context, None]):
    websocket_adapter_class = TextWebSocketAdapter  # type: ignore[assignment]

    def __init__(self, gateway: Gateway) -> None:
        settings = gateway.settings
        ide = settings.graphql_ide
        if ide is None:
            ide = settings.env != "production"
        super().__init__(
            build_schema(settings),
            graphql_ide="graphiql" if ide else None,
            allow_queries_via_get=True,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            multipart_uploads_enabled=False,
            max_subscriptions_per_connection=20,
            allowed_origins=tuple(settings.cors_origins),
            connection_init_wait_timeout=timedelta(seconds=10),
        )
        self.gateway = gateway
        self.max_json_depth = settings.graphql_max_json_depth

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        cls = WsContext if isinstance(request, WebSocket) else Context
        return cls(
            gateway=self.gateway,
            request=request,
            response=response,
            token=bearer_token(request.headers.get("authorization")),
        )

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """graphql-transport-ws connection_init: payload {"Authorization": "Bearer ..."} or
        {"token": "..."} (or the upgrade request's header). No valid token: close 4403."""
        assert isinstance(context, WsContext)
        token = _token_from(context.connection_params or {}) or context.token
        if not token:
            raise ConnectionRejectionError({"reason": "Not authenticated"})
        try:
            claims = self.gateway.tokens.verify(token)
            context.token = token
            actor = await context.require_actor()
            # The socket outlives this read: `me` over it must re-read, not reuse the profile.
            context._actor_value = dataclasses.replace(actor, profile=None)
        except DomainError as exc:
            raise ConnectionRejectionError({"reason": exc.detail}) from exc
        context.token_expires_at = float(claims.expires_at)
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
