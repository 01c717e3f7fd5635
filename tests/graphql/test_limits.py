"""The cost model on a schema with nested paginated lists (the shape subjects will have)."""

from __future__ import annotations

import strawberry
from graphql import parse

from gateway.graphql.limits import Limits, measure


@strawberry.type
class Session:
    id: int
    titles: list[str]


@strawberry.type
class Student:
    id: int

    @strawberry.field
    def sessions(self, first: int = 20) -> list[Session]:
        return []


@strawberry.type
class StudentEdge:
    node: Student


@strawberry.type
class StudentConnection:
    edges: list[StudentEdge]
    total: int


@strawberry.type
class Subject:
    name: str

    @strawberry.field
    def students(self, first: int = 50) -> StudentConnection:
        return StudentConnection(edges=[], total=0)

    @strawberry.field
    def tags(self) -> list[Session]:
        return []


@strawberry.type
class Query:
    @strawberry.field
    def subjects(self, first: int = 10) -> list[Subject]:
        return []


SCHEMA = strawberry.Schema(Query)._schema


def cost_of(query: str, variables: dict[str, object] | None = None) -> int:
    return measure(SCHEMA, parse(query), None, variables, page_cap=100).cost


def test_nested_pages_multiply() -> None:
    query = (
        "{ subjects(first: 100) { students(first: 100) { edges { node { "
        "sessions(first: 100) { id } } } } } }"
    )
    # subjects: 100 x students: (1 + edges: 100 x node: (1 + sessions: 100 x id))
    assert cost_of(query) == 1 + 100 * (1 + (1 + 100 * (1 + (1 + 100 * 1))))
    found = measure(SCHEMA, parse(query), page_cap=100)
    error = Limits(5000, 10, 30, 10_000, 100).check(found)
    assert error is not None and error.extensions == {
        "code": "QUERY_TOO_COMPLEX",
        "cost": {"requested": found.cost, "maximum": 10_000},
    }


def test_defaults_variables_and_cap() -> None:
    assert cost_of("{ subjects { name } }") == 1 + 10 * 1
    assert cost_of("query($n: Int) { subjects(first: $n) { name } }", {"n": 3}) == 1 + 3
    assert cost_of("query($n: Int = 7) { subjects(first: $n) { name } }") == 1 + 7
    assert cost_of("{ subjects(first: 100000) { name } }") == 1 + 100
    assert cost_of("{ subjects(first: -5) { name } }") == 1
    # A list without a paging argument counts as a full page.
    assert cost_of("{ subjects(first: 1) { tags { id } } }") == 1 + (1 + 100 * 1)


def test_connection_page_applies_to_edges_not_siblings() -> None:
    query = "{ subjects(first: 1) { students(first: 5) { total edges { node { id } } } } }"
    # subjects: 1 x students: (1 + total + edges: 5 x node: (1 + id))
    assert cost_of(query) == 1 + (1 + 1 + (1 + 5 * (1 + 1)))


def test_fragments_are_expanded() -> None:
    inline = "{ subjects(first: 2) { a: name b: name } }"
    spread = "{ subjects(first: 2) { ...F } } fragment F on Subject { a: name b: name }"
    assert measure(SCHEMA, parse(inline)) == measure(SCHEMA, parse(spread))
    assert measure(SCHEMA, parse(spread)).aliases == 2


def test_introspection_is_free_and_ofType_adds_no_depth() -> None:
    query = "{ __schema { types { fields { type { ofType { ofType { ofType { name } } } } } } } }"
    found = measure(SCHEMA, parse(query))
    assert found.cost == 0 and found.depth == 4
