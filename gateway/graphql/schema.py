"""The one GraphQL schema: every domain's queries and mutations merged here."""

from __future__ import annotations

from collections.abc import Callable

import strawberry
from strawberry.extensions import DisableIntrospection, SchemaExtension
from strawberry.schema.config import StrawberryConfig

from gateway.admin.types import AdminMutation, AdminQuery
from gateway.config import Settings
from gateway.graphql.errors import DomainErrors
from gateway.graphql.limits import QueryLimits
from gateway.users.types import UsersMutation, UsersQuery


@strawberry.type
class Query(UsersQuery, AdminQuery):
    pass


@strawberry.type
class Mutation(UsersMutation, AdminMutation):
    pass


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    settings = settings or Settings()
    production = settings.env == "production"
    # Factories, not instances: an extension instance must never be shared between requests.
    extensions: list[Callable[[], SchemaExtension] | type[SchemaExtension]] = [
        DomainErrors,
        # Parsing and validation (both cached) plus the token, depth, alias and cost limits.
        QueryLimits.factory(settings),
    ]
    introspection = settings.graphql_introspection
    if introspection is False or (introspection is None and production):
        extensions.append(DisableIntrospection)
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        extensions=extensions,
        config=StrawberryConfig(disable_field_suggestions=production),
    )
