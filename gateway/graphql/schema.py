"""The one GraphQL schema: every domain's queries and mutations merged here."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.graphql import OperationType

from gateway.admin.types import AdminMutation, AdminQuery
from gateway.analytics.types import AnalyticsQuery, AnalyticsSubscription
from gateway.config import Settings
from gateway.graphql.errors import DomainErrors
from gateway.graphql.execution import GatewayExecutionContext
from gateway.graphql.hooks import ClassifiedHooksRunner
from gateway.graphql.limits import QueryLimits
from gateway.graphql.nodes import NodeQuery
from gateway.graphql.persisted import PersistedQueryRegistration
from gateway.graphql.rate_limit import GraphQLRateLimit
from gateway.observability.graphql import GraphQLObservability
from gateway.sessions.types import (
    ChatMessageType,
    ChatSessionType,
    QuizAttemptType,
    SessionsMutation,
    SessionsQuery,
    SessionsSubscription,
)
from gateway.subjects.types import SubjectsMutation, SubjectsQuery, SubjectType
from gateway.system.types import SystemQuery
from gateway.users.types import UsersMutation, UsersQuery, UserType


@strawberry.type
class Query(
    NodeQuery, UsersQuery, AdminQuery, SubjectsQuery, AnalyticsQuery, SessionsQuery, SystemQuery
):
    pass


@strawberry.type
class Mutation(UsersMutation, AdminMutation, SubjectsMutation, SessionsMutation):
    pass


@strawberry.type
class Subscription(SessionsSubscription, AnalyticsSubscription):
    pass


class GatewaySchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Errors are logged once, by DomainErrors, and only when they are unexpected."""

    def create_extensions_runner(
        self, execution_context: ExecutionContext, extensions: list[SchemaExtension]
    ) -> SchemaExtensionsRunner:
        """Hooks classified once per extension class (gateway/graphql/hooks.py)."""
        return ClassifiedHooksRunner(execution_context=execution_context, extensions=extensions)

    async def execute(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        """HTTP's entry point (WebSocket operations go through stream()): a subscription
        lives on a WebSocket, so over HTTP it is a 400, like a mutation over GET."""
        allowed = set(allowed_operation_types or (OperationType.QUERY, OperationType.MUTATION))
        return await super().execute(
            query,
            variable_values=variable_values,
            context_value=context_value,
            root_value=root_value,
            operation_name=operation_name,
            allowed_operation_types=allowed - {OperationType.SUBSCRIPTION},
            operation_extensions=operation_extensions,
        )


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    settings = settings or Settings()
    production = settings.env == "production"
    # Factories, not instances: an extension instance must never be shared between requests.
    extensions: list[Callable[[], SchemaExtension] | type[SchemaExtension]] = [
        GraphQLObservability,  # first: it sees the errors in their final form
        DomainErrors.factory(settings),  # in production, without "Did you mean ...?" hints
        GraphQLRateLimit,
        # Parsing and validation (both cached) plus the token, depth, alias and cost limits;
        # in production (or with GATEWAY_GRAPHQL_INTROSPECTION=false) no introspection.
        QueryLimits.factory(settings),
        # After the rate limit, the limits and validation: only valid documents are stored.
        PersistedQueryRegistration,
    ]
    if settings.otel_enabled:  # outermost: the operation span covers the other extensions
        from gateway.observability.graphql_tracing import GraphQLTracing

        extensions.insert(0, GraphQLTracing.factory(settings.otel_resolver_threshold_ms))
    return GatewaySchema(
        query=Query,
        # Every Node type, even one no field returns directly, so node(id:) can answer it.
        types=[SubjectType, UserType, ChatSessionType, ChatMessageType, QuizAttemptType],
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        config=StrawberryConfig(disable_field_suggestions=production),
        execution_context_class=GatewayExecutionContext,
    )
