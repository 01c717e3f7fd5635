"""The /graphql endpoint: strawberry's ASGI view with our context."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UnsetType

from gateway.errors import DomainError
from gateway.graphql.context import Context, bearer_token
from gateway.graphql.schema import build_schema

if TYPE_CHECKING:
    from gateway.app import Gateway


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


class GatewayGraphQL(GraphQL[Context, None]):
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
            await context.require_actor()
        except DomainError as exc:
            raise ConnectionRejectionError({"reason": exc.detail}) from exc
        context.token_expires_at = float(claims.expires_at)
        return await super().on_ws_connect(context)
