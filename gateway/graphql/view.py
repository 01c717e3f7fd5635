"""The /graphql endpoint: strawberry's ASGI view with our context."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from gateway.graphql.context import Context, bearer_token
from gateway.graphql.schema import build_schema

if TYPE_CHECKING:
    from gateway.app import Gateway


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
        )
        self.gateway = gateway

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        return Context(
            gateway=self.gateway,
            request=request,
            response=response,
            token=bearer_token(request.headers.get("authorization")),
        )
