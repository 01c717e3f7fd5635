"""The one GraphQL schema: every domain's queries and mutations merged here."""

from __future__ import annotations

from collections.abc import Callable

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    DisableIntrospection,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from gateway.admin.types import AdminMutation, AdminQuery
from gateway.analytics.types import AnalyticsQuery
from gateway.config import Settings
from gateway.graphql.errors import DomainErrors
from gateway.subjects.types import SubjectsMutation, SubjectsQuery
from gateway.users.types import UsersMutation, UsersQuery


@strawberry.type
class Query(UsersQuery, AdminQuery, SubjectsQuery, AnalyticsQuery):
    pass


@strawberry.type
class Mutation(UsersMutation, AdminMutation, SubjectsMutation):
    pass


class GatewaySchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Errors are logged once, by DomainErrors, and only when they are unexpected."""


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    settings = settings or Settings()
    production = settings.env == "production"
    # Factories, not instances: an extension instance must never be shared between requests.
    extensions: list[Callable[[], SchemaExtension] | type[SchemaExtension]] = [
        DomainErrors,
        lambda: MaxTokensLimiter(max_token_count=settings.graphql_max_tokens),
        lambda: ParserCache(maxsize=256),
        lambda: ValidationCache(maxsize=256),
        lambda: QueryDepthLimiter(max_depth=settings.graphql_max_depth),
        lambda: MaxAliasesLimiter(max_alias_count=settings.graphql_max_aliases),
    ]
    introspection = settings.graphql_introspection
    if introspection is False or (introspection is None and production):
        extensions.append(DisableIntrospection)
    return GatewaySchema(
        query=Query,
        mutation=Mutation,
        extensions=extensions,
        config=StrawberryConfig(disable_field_suggestions=production),
    )
