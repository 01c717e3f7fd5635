"""The leaf fast path (gateway/graphql/execution.py) against graphql-core's own execution: the
same documents through both must give the same data and the same errors (message, path,
locations), on small schemas made for the odd cases and on the real app over HTTP."""

from __future__ import annotations

import datetime as dt
import gc
import warnings
from collections.abc import Awaitable, Callable, Iterator
from enum import Enum
from typing import Any, NewType

import pytest
import strawberry
from graphql import GraphQLField, GraphQLObjectType
from graphql.type.definition import GraphQLResolveInfoHelpers
from starlette.requests import Request
from strawberry.extensions import SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from gateway.graphql.context import Context
from gateway.graphql.deferred import Deferred
from gateway.graphql.execution import GatewayExecutionContext, leaf_plan
from gateway.graphql.schema import build_schema
from tests.analytics.world import ANALYTICS, analytics_world
from tests.conftest import Api, make_settings


@strawberry.enum
class Color(Enum):
    RED = "red"
    GREEN = "green"


@strawberry.type
class Item:
    id: strawberry.ID
    name: str
    nickname: str | None
    color: Color
    tint: Color | None
    created: dt.datetime
    score: float | None
    count: int
    flag: bool

    @strawberry.field
    def shout(self) -> str:
        return self.name.upper()


# A scalar that cannot represent anything: its serializer returns None.
with warnings.catch_warnings(category=DeprecationWarning, action="ignore"):
    Blank = strawberry.scalar(NewType("Blank", str), serialize=lambda _: None, parse_value=str)


@strawberry.type
class Holder:
    required: str
    optional: str | None
    raising: int | None
    raising_required: int
    exception_value: str | None
    bad_int: int | None
    bad_enum: Color | None
    blank: Blank | None  # type: ignore[valid-type]
    lazy: str | None
    lazy_required: str
    lazy_raising: str | None


@strawberry.type
class Wrapper:
    holder: Holder


@strawberry.type
class Query:
    items: list[Item]
    item: Item | None
    nothing: Item | None
    holder: Holder | None
    holders: list[Holder | None]
    wrapper: Wrapper | None

    @strawberry.field
    def echo(self, value: str) -> str:
        return value


async def _later(value: Any) -> Any:
    if isinstance(value, Exception):
        raise value
    return value


class HolderSource:
    """Whatever a careless resolver could hand back: None for a non-null field, an
    exception as a value, a value no scalar accepts, an attribute that raises."""

    required = None
    optional = None
    exception_value = ValueError("an exception as a value")
    bad_int = "not a number"
    bad_enum = "purple"
    blank = "nothing to show"

    def __init__(self, required: str | None = None) -> None:
        self.required = required
        self.lazy = Deferred(lambda: _later("fetched"))
        self.lazy_required = Deferred(lambda: _later(None))
        self.lazy_raising = Deferred(lambda: _later(RuntimeError("fetch failed")))

    @property
    def raising(self) -> int:
        raise LookupError("attribute failed")

    @property
    def raising_required(self) -> int:
        raise LookupError("required attribute failed")


def _item(n: int, color: Color) -> Item:
    return Item(
        id=strawberry.ID(f"item-{n}"),
        name=f"item {n}",
        nickname=None if n % 2 else f"nick {n}",
        color=color,
        tint=None if n % 2 else color,
        created=dt.datetime(2026, 1, n, 12, 30, tzinfo=dt.UTC),
        score=None if n == 2 else n / 3,
        count=n,
        flag=n % 2 == 0,
    )


class Root:
    def __init__(self) -> None:
        self.items = [_item(1, Color.RED), _item(2, Color.GREEN), _item(3, Color.RED)]
        self.item = self.items[1]
        self.nothing = None
        self.holder = HolderSource(required="here")
        self.holders = [HolderSource(required="first"), None, HolderSource()]
        self.wrapper = Wrapper(holder=HolderSource())  # type: ignore[arg-type]


DOCUMENTS: list[tuple[str, dict[str, Any]]] = [
    ("{ items { id name nickname color tint created score count flag shout __typename } }", {}),
    (
        """query { a: items { ...F n2: name } item { ... on Item { name color } }
        nothing { name } } fragment F on Item { id theName: name count }""",
        {},
    ),
    (
        """query($yes: Boolean!, $no: Boolean!) {
          items { name @include(if: $yes) nickname @skip(if: $yes) color @include(if: $no)
                  ... @skip(if: $no) { score } } }""",
        {"yes": True, "no": False},
    ),
    ("query($v: String!) { echo(value: $v) item { name name } __typename }", {"v": "hi"}),
    ("{ holder { required optional } }", {}),
    ("{ holders { required optional } }", {}),
    ("{ wrapper { holder { optional required } } }", {}),
    ("{ holder { raising optional } }", {}),
    ("{ holder { raisingRequired optional } item { name } }", {}),
    ("{ holder { exceptionValue } }", {}),
    ("{ holder { badInt } }", {}),
    ("{ holder { badEnum } }", {}),
    ("{ holder { blank optional } }", {}),
    ("{ holder { lazy lazyRaising } }", {}),
    ("{ holder { lazyRequired } item { count } }", {}),
]


def _schema(
    execution_context_class: type[StrawberryGraphQLCoreExecutionContext],
    **kwargs: Any,
) -> strawberry.Schema:
    return strawberry.Schema(query=Query, execution_context_class=execution_context_class, **kwargs)


def _outcome(result: Any) -> tuple[Any, list[dict[str, Any]]]:
    return result.data, [error.formatted for error in result.errors or []]


@pytest.fixture
def fast_leaves(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The fields that took the fast path, by name."""
    taken: list[str] = []
    original = GatewayExecutionContext._execute_leaf

    def spy(self: GatewayExecutionContext, *args: Any) -> Any:
        taken.append(args[5].key)  # the response name at the end of the path
        return original(self, *args)

    monkeypatch.setattr(GatewayExecutionContext, "_execute_leaf", spy)
    yield taken


async def _compare(
    fast: strawberry.Schema, plain: strawberry.Schema, query: str, variables: dict[str, Any]
) -> tuple[Any, list[dict[str, Any]]]:
    expected = _outcome(await plain.execute(query, variables, root_value=Root()))
    actual = _outcome(await fast.execute(query, variables, root_value=Root()))
    assert actual == expected, query
    return actual


@pytest.mark.parametrize(("query", "variables"), DOCUMENTS)
async def test_same_result_as_graphql_core(
    query: str, variables: dict[str, Any], fast_leaves: list[str]
) -> None:
    fast = _schema(GatewayExecutionContext)
    plain = _schema(StrawberryGraphQLCoreExecutionContext)
    await _compare(fast, plain, query, variables)
    assert fast_leaves, "no field took the fast path"


async def test_the_odd_cases_are_errors() -> None:
    """The cases above are not vacuous: each breaks where graphql-core says it breaks."""
    fast = _schema(GatewayExecutionContext)
    data, errors = _outcome(
        await fast.execute("{ wrapper { holder { required } } }", root_value=Root())
    )
    assert data == {"wrapper": None}
    assert errors == [
        {
            "message": "Cannot return null for non-nullable field Holder.required.",
            "locations": [{"line": 1, "column": 22}],
            "path": ["wrapper", "holder", "required"],
        }
    ]
    query = "{ holder { raising badInt badEnum blank exceptionValue lazyRaising lazy } }"
    data, errors = _outcome(await fast.execute(query, root_value=Root()))
    assert data == {
        "holder": {
            "raising": None,
            "badInt": None,
            "badEnum": None,
            "blank": None,
            "exceptionValue": None,
            "lazyRaising": None,
            "lazy": "fetched",
        }
    }
    assert [(e["path"][-1], e["message"]) for e in errors] == [
        ("raising", "attribute failed"),
        ("badInt", "Int cannot represent non-integer value: 'not a number'"),
        ("badEnum", "Enum 'Color' cannot represent value: 'purple'"),
        (
            "blank",
            "Expected `Blank.coerce_output_value('nothing to show')` to return non-nullable"
            " value, returned: None",
        ),
        ("exceptionValue", "an exception as a value"),
        ("lazyRaising", "fetch failed"),
    ]


def _from_dict(source: Any, name: str) -> object:
    value: Callable[[], object] | object = source[name] if isinstance(source, dict) else None
    return value() if callable(value) else value


async def test_configured_default_resolver(fast_leaves: list[str]) -> None:
    """Strawberry's default_resolver is the one the fast path reads attributes with."""

    @strawberry.type
    class DictQuery:
        name: str
        count: int | None
        color: Color
        missing: str

    config = StrawberryConfig(default_resolver=_from_dict)

    def fail() -> object:
        raise KeyError("gone")

    root = {"name": "dict", "count": lambda: 3, "color": Color.GREEN, "missing": fail}
    results = []
    for cls in (GatewayExecutionContext, StrawberryGraphQLCoreExecutionContext):
        schema = strawberry.Schema(query=DictQuery, config=config, execution_context_class=cls)
        result = await schema.execute("{ name count color missing }", root_value=root)
        results.append(_outcome(result))
    assert results[0] == results[1]
    assert results[0][0] is None  # missing is non-null: the error reaches the root
    assert sorted(fast_leaves) == ["color", "count", "missing", "name"]


class CountResolves(SchemaExtension):
    seen: list[str] = []

    def resolve(
        self, _next: Callable[..., Any], root: Any, info: Any, *args: Any, **kwargs: Any
    ) -> Awaitable[Any] | Any:
        CountResolves.seen.append(info.field_name)
        return _next(root, info, *args, **kwargs)


async def test_resolver_middleware_sees_every_field(fast_leaves: list[str]) -> None:
    """With an extension's resolve hook (the tracing one), nothing takes the fast path."""
    fast = _schema(GatewayExecutionContext, extensions=[CountResolves])
    plain = _schema(StrawberryGraphQLCoreExecutionContext, extensions=[CountResolves])
    query = "{ item { name color count } holder { required lazy } }"
    CountResolves.seen = []
    await _compare(fast, plain, query, {})
    fields = ["item", "name", "color", "count", "holder", "required", "lazy"]
    assert sorted(CountResolves.seen) == sorted(fields * 2)
    assert fast_leaves == []


def _field(schema: strawberry.Schema, type_name: str, field_name: str) -> GraphQLField:
    parent = schema._schema.type_map[type_name]
    assert isinstance(parent, GraphQLObjectType)
    return parent.fields[field_name]


def test_which_fields_of_the_real_schema_are_plain_leaves() -> None:
    schema = build_schema(make_settings("sqlite+aiosqlite:///:memory:"))
    plain_leaves = [
        ("User", "username"),
        ("User", "role"),
        ("User", "createdAt"),
        ("StudentProgress", "averageScore"),
        ("QuizAttempt", "percentage"),
    ]
    others = [
        ("User", "subjectCodes"),  # a list
        ("User", "subjects"),  # objects
        ("Subject", "students"),  # arguments
        ("Query", "me"),
        ("Query", "systemInfo"),
    ]
    for type_name, field_name in plain_leaves:
        assert leaf_plan(_field(schema, type_name, field_name)) is not None, field_name
    for type_name, field_name in others:
        assert leaf_plan(_field(schema, type_name, field_name)) is None, field_name


REAL_QUERIES: list[tuple[str, str, dict[str, Any]]] = [
    ("ana", ANALYTICS, {"id": "INF001", "first": 100}),
    ("juan", ANALYTICS, {"id": "INF001", "first": 5}),
    ("ana", ANALYTICS, {"id": "NOPE", "first": 5}),
    (
        "gabriel",
        "{ me { __typename id username fullName role createdAt subjectCodes email } }",
        {},
    ),
    ("", "{ me { username } }", {}),
    (
        "gabriel",
        """{ subjects(first: 10) { edges { cursor node { id code name description createdAt
             studentCount enrolled professor { username role } } }
             pageInfo { hasNextPage endCursor } } }""",
        {},
    ),
    (
        "ana",
        """query($u: ID!) { user(id: $u) { username role quizAttempts(first: 5) {
             nodes { correct total percentage createdAt subjectCode sessionId } } } }""",
        {"u": "gabriel"},
    ),
    (
        "ana",
        """{ myStudents(first: 10) { edges { subjectCodes node { username fullName email } }
             pageInfo { hasNextPage endCursor } } }""",
        {},
    ),
    (
        "gabriel",
        """{ sessions(first: 5) { nodes { id sessionId subjectCode title createdAt lastActive
             messageCount lastError } } }""",
        {},
    ),
    ("admin", "{ users(first: 10) { nodes { username role email createdAt } } }", {}),
]


def _without_request_ids(body: dict[str, Any]) -> dict[str, Any]:
    errors = [
        {**e, "extensions": {k: v for k, v in e["extensions"].items() if k != "requestId"}}
        for e in body.get("errors", [])
    ]
    return {**body, "errors": errors}


async def test_real_queries_over_http(
    api: Api, monkeypatch: pytest.MonkeyPatch, fast_leaves: list[str]
) -> None:
    world, _ = await analytics_world(api)
    tokens = {name: getattr(world, name) for name in ("ana", "juan", "gabriel", "admin")}
    fast = []
    for who, query, variables in REAL_QUERIES:
        fast.append(await api.gql(query, variables, token=tokens.get(who)))
    assert fast_leaves, "no field took the fast path"
    monkeypatch.setattr(
        GatewayExecutionContext,
        "execute_field",
        StrawberryGraphQLCoreExecutionContext.execute_field,
    )
    for (who, query, variables), body in zip(REAL_QUERIES, fast, strict=True):
        plain = await api.gql(query, variables, token=tokens.get(who))
        assert _without_request_ids(plain) == _without_request_ids(body), query
    progress = fast[0]["data"]["subject"]["analytics"]["studentProgress"]["nodes"]
    assert len(progress) >= 4
    assert fast[1]["errors"] and fast[4]["errors"]


QUERY_ME = (
    "query Profile { me { username email fullName role subjectCodes preferences { theme } } }"
)


async def test_an_operation_leaves_no_reference_cycle(api: Api) -> None:
    """graphql-core's executor holds its async helpers as bound methods of itself: a cycle
    that left each request's executor, context, request and response to the cycle collector
    (GC pauses of 40-70 ms under load). Over HTTP, on strawberry's path (a document's first
    request) and on the direct path (the next ones), and for an error: none of the gateway's
    objects is cyclic garbage."""
    token = await api.user("cyclist")
    documents = [QUERY_ME, QUERY_ME, '{ subject(id: "NOPE") { name } }', "{ me { nope } }"]
    await api.gql("{ __typename }", token=token)  # the app's own first-use work, done
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for query in documents:
            body = await api.gql(query, token=token)
            assert body.get("data") or body.get("errors"), body
        gc.collect()
        leaked = {type(o) for o in gc.garbage}
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    # httpx's in-process transport makes cycles of its own; the gateway's objects are checked
    ours = {GatewayExecutionContext, Context, GraphQLResolveInfoHelpers, Request}
    assert leaked & ours == set()
