"""Names that configuration and documentation give to GraphQL operations must exist."""

from __future__ import annotations

from gateway.graphql.schema import build_schema
from gateway.ratelimit import AUTH_FIELDS, CHAT_FIELDS


def test_rate_limited_fields_are_real_mutations() -> None:
    mutation = build_schema()._schema.mutation_type
    assert mutation is not None
    assert set(CHAT_FIELDS | AUTH_FIELDS) <= set(mutation.fields), set(
        CHAT_FIELDS | AUTH_FIELDS
    ) - set(mutation.fields)
