"""Checklist rows 1-8, 10-13, 22 and 33 (shared/security-checklist.md) against the real app."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from gateway.users.models import Role
from tests.conftest import PASSWORD, Api, StatementCounter

REGISTER = (
    'mutation { register(input: {username: "%s", email: "%s@example.com", password: "%s"})'
    " { user { username } } }"
)


def register_doc(username: str) -> str:
    return REGISTER % (username, username, PASSWORD)


def only_error(body: dict[str, Any]) -> dict[str, Any]:
    # A refused nullable root field is null with its error; a non-null one nulls `data`.
    assert not any((body.get("data") or {}).values()), body
    assert len(body["errors"]) == 1, body
    error: dict[str, Any] = body["errors"][0]
    return error


async def user_exists(api: Api, username: str) -> bool:
    admin = await api.user(f"adm{time.monotonic_ns() % 10**8}", Role.ADMIN)
    r = await api.client.get(f"/users/{username}", headers={"Authorization": f"Bearer {admin}"})
    assert r.status_code in (200, 404), r.text
    return r.status_code == 200


# Row 1: deep nesting is refused before validation and before any SQL.
async def test_depth_30_is_refused_before_any_sql(api: Api, sql_counter: StatementCounter) -> None:
    query = "{ me " + "{ preferences " * 29 + "{ theme }" + " }" * 29 + " }"
    started = time.perf_counter()
    body = await api.gql(query)
    elapsed = time.perf_counter() - started
    error = only_error(body)
    assert error["extensions"]["code"] == "QUERY_TOO_DEEP"
    assert error["extensions"]["depth"] == {"requested": 30, "maximum": 10}
    assert sql_counter.count == 0
    assert elapsed < 0.5


async def test_depth_through_fragments_counts(api: Api) -> None:
    fragments = " ".join(
        f"fragment F{i} on User {{ preferences {{ ...F{i + 1} }} }}" for i in range(12)
    )
    body = await api.gql("{ me { ...F0 } } " + fragments + " fragment F12 on Preferences { theme }")
    assert only_error(body)["extensions"]["code"] == "QUERY_TOO_DEEP"


async def test_depth_within_limit_runs(api: Api) -> None:
    token = await api.user("deep", Role.ADMIN)
    body = await api.gql(
        "{ users(first: 5) { edges { node { preferences { theme } } } } }", token=token
    )
    assert "errors" not in body, body


# Row 2: circular fragments are one clean validation error.
async def test_circular_fragments(api: Api) -> None:
    body = await api.gql(
        "{ me { ...A } } fragment A on User { id ...B } fragment B on User { username ...A }"
    )
    assert body.get("data") is None
    codes = {e["extensions"]["code"] for e in body["errors"]}
    assert codes == {"GRAPHQL_VALIDATION_FAILED"}, body
    assert any("Cannot spread fragment" in e["message"] for e in body["errors"])


# Row 3: many aliases.
async def test_500_aliases_refused(api: Api, sql_counter: StatementCounter) -> None:
    query = "{ " + " ".join(f"a{i}: me {{ id }}" for i in range(500)) + " }"
    error = only_error(await api.gql(query))
    assert error["extensions"]["code"] == "TOO_MANY_ALIASES"
    assert error["extensions"]["aliases"] == {"requested": 500, "maximum": 30}
    assert sql_counter.count == 0


# Row 4: aliases hidden in a fragment spread 100 times are counted after expansion.
async def test_aliases_hidden_in_fragment_spreads(api: Api) -> None:
    spreads = " ".join("...F" for _ in range(100))
    query = f"{{ me {{ {spreads} }} }} fragment F on User {{ a: id }}"
    error = only_error(await api.gql(query))
    assert error["extensions"]["code"] == "TOO_MANY_ALIASES"
    assert error["extensions"]["aliases"]["requested"] == 100


async def test_nested_spreads_are_measured_in_linear_time(api: Api) -> None:
    # 2^25 expansions if followed naively; memoised per fragment it is instant.
    fragments = " ".join(f"fragment F{i} on User {{ ...F{i + 1} ...F{i + 1} }}" for i in range(25))
    query = "{ me { ...F0 } } " + fragments + " fragment F25 on User { a: id }"
    started = time.perf_counter()
    error = only_error(await api.gql(query))
    assert time.perf_counter() - started < 1.0
    assert error["extensions"]["code"] == "TOO_MANY_ALIASES"
    assert error["extensions"]["aliases"]["requested"] == 2**25


# Row 5: huge documents.
@pytest.mark.parametrize("count", [10_000, 50_000])
async def test_huge_document_refused_by_token_limit(api: Api, count: int) -> None:
    query = "{ " + " ".join(["__typename"] * count) + " }"
    error = only_error(await api.gql(query))
    assert error["extensions"]["code"] == "TOO_MANY_TOKENS"
    assert error["extensions"]["tokens"] == {"maximum": 5000}


async def test_document_over_the_body_limit_is_413_before_parsing(api: Api) -> None:
    query = "{ " + " ".join(["__typename"] * 100_000) + " }"  # 1.1 MB
    r = await api.client.post("/graphql", json={"query": query})
    assert r.status_code == 413
    assert r.json() == {"detail": "Request body too large (limit 1048576 bytes)"}


async def test_deeply_nested_document_is_not_a_recursion_error(api: Api) -> None:
    query = "{" * 2400 + "}" * 2400
    error = only_error(await api.gql(query))
    assert error["extensions"]["code"] in {"QUERY_TOO_DEEP", "GRAPHQL_PARSE_FAILED"}, error


# Row 6: page sizes out of range are BAD_USER_INPUT, never unbounded.
@pytest.mark.parametrize("first", [100_000, -1, 0, 101])
async def test_page_size_out_of_range(api: Api, first: int) -> None:
    token = await api.user("pager", Role.ADMIN)
    body = await api.gql(
        "query($n: Int!) { users(first: $n) { nodes { id } } }", {"n": first}, token=token
    )
    error = only_error(body)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"] == "first must be 1..100"
    literal = await api.gql(f"{{ users(first: {first}) {{ nodes {{ id }} }} }}", token=token)
    assert only_error(literal)["extensions"]["code"] == "BAD_USER_INPUT"


# Row 7: the static cost is checked before execution and reported.
async def test_costly_query_refused_with_cost(api: Api, sql_counter: StatementCounter) -> None:
    fields = "id username fullName role createdAt subjectCodes email"
    page = f"users(first: 100) {{ edges {{ node {{ {fields} }} }} nodes {{ {fields} }} }}"
    query = "{ " + " ".join(f"p{i}: {page}" for i in range(7)) + " }"
    error = only_error(await api.gql(query))
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    cost = error["extensions"]["cost"]
    assert cost["maximum"] == 10_000
    assert cost["requested"] == 7 * (1 + (1 + 100 * 8) + (1 + 100 * 7))
    assert sql_counter.count == 0


async def test_cost_uses_variable_page_size(api: Api) -> None:
    fields = "id username fullName role createdAt subjectCodes email"
    query = (
        "query($n: Int!) { "
        + " ".join(f"p{i}: users(first: $n) {{ nodes {{ {fields} }} }}" for i in range(20))
        + " }"
    )
    token = await api.user("varcost", Role.ADMIN)
    small = await api.gql(query, {"n": 5}, token=token)
    assert "errors" not in small, small
    big = only_error(await api.gql(query, {"n": 100}, token=token))
    assert big["extensions"]["code"] == "QUERY_TOO_COMPLEX"


# Row 8: batching is off: a JSON array is a clear 400 and nothing runs.
async def test_json_array_batch_refused(api: Api) -> None:
    batch = [{"query": register_doc(f"batch{i}")} for i in range(100)]
    r = await api.client.post("/graphql", json=batch)
    assert r.status_code == 400
    assert r.json()["errors"][0] == {
        "message": "Batching is not enabled",
        "extensions": {"code": "BAD_REQUEST"},
    }
    assert not await user_exists(api, "batch0")


# Rows 10 and 11: production configuration.
async def test_production_hides_schema(prod_client: httpx.AsyncClient, api: Api) -> None:
    r = await prod_client.post("/graphql", json={"query": "{ __schema { types { name } } }"})
    assert r.status_code == 200
    assert "GraphQL introspection has been disabled" in r.text
    assert "types" not in json.dumps(r.json().get("data"))
    typo = await prod_client.post("/graphql", json={"query": "{ usr { id } }"})
    assert "Did you mean" not in typo.text and "errors" in typo.json()
    dev = await api.client.post("/graphql", json={"query": "{ usr { id } }"})
    assert "Did you mean" in dev.text  # the same typo in development: the check can fail


async def test_production_has_no_graphiql(prod_client: httpx.AsyncClient, api: Api) -> None:
    page = await prod_client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 404 and "<html" not in page.text.lower()
    dev = await api.client.get("/graphql", headers={"Accept": "text/html"})
    assert dev.status_code == 200 and "graphiql" in dev.text.lower()
    assert "?headers=" not in dev.text


# Row 12: CSRF-style content types.
@pytest.mark.parametrize(
    ("content_type", "payload"),
    [
        ("text/plain", lambda q: json.dumps({"query": q})),
        (
            "application/x-www-form-urlencoded",
            lambda q: "query=" + httpx.QueryParams({"q": q})["q"],
        ),
        (
            "multipart/form-data; boundary=x",
            lambda q: (
                '--x\r\nContent-Disposition: form-data; name="operations"\r\n\r\n'
                + json.dumps({"query": q})
                + "\r\n--x--\r\n"
            ),
        ),
    ],
)
async def test_csrf_content_types_refused(api: Api, content_type: str, payload: Any) -> None:
    r = await api.client.post(
        "/graphql", content=payload(register_doc("csrf")), headers={"Content-Type": content_type}
    )
    assert r.status_code == 400
    assert r.json()["errors"][0]["message"] == "Unsupported content type"
    assert not await user_exists(api, "csrf")


# Row 13: no mutation over GET.
async def test_mutation_over_get_refused(api: Api) -> None:
    r = await api.client.get("/graphql", params={"query": register_doc("viaget")})
    assert r.status_code == 400
    assert "mutations are not allowed when using GET" in r.json()["errors"][0]["message"]
    assert not await user_exists(api, "viaget")


async def test_query_over_get_allowed(api: Api) -> None:
    r = await api.client.get("/graphql", params={"query": "{ __typename }"})
    assert r.status_code == 200 and r.json() == {"data": {"__typename": "Query"}}


# Row 22: malformed bodies are 4xx, never 500.
@pytest.mark.parametrize(
    "raw",
    [
        b"{not json",
        b'{"query": "{ me { id } }"',
        b"\xff\xfe{}",
        b'{"query": "\xc3\x28"}',
        b"123",
        b'"just a string"',
        b"null",
        b"",
    ],
)
async def test_malformed_json(api: Api, raw: bytes) -> None:
    r = await api.client.post("/graphql", content=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert r.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_variables_as_a_string(api: Api) -> None:
    r = await api.client.post(
        "/graphql",
        json={
            "query": "query($n: Int!) { users(first: $n) { nodes { id } } }",
            "variables": '{"n": 1}',
        },
    )
    assert r.status_code == 400
    assert "variables" in r.json()["errors"][0]["message"]


@pytest.mark.parametrize("depth", [25, 1000, 100_000])
async def test_deeply_nested_variables(api: Api, depth: int) -> None:
    nested = '{"a":' * depth + "1" + "}" * depth
    raw = '{"query": "{ __typename }", "variables": {"x": ' + nested + "}}"
    r = await api.client.post("/graphql", content=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text[:200]
    if depth <= 1000:  # longer URLs are refused by the client itself
        params = {"query": "{ __typename }", "variables": nested}
        get = await api.client.get("/graphql", params=params)
        assert get.status_code == 400, get.text[:200]


async def test_reasonable_nesting_accepted(api: Api) -> None:
    token = await api.user("nester")
    body = await api.gql(
        "mutation($i: UpdateMeInput!) { updateMe(input: $i) { user { fullName } } }",
        {"i": {"fullName": "Nest", "preferences": {"theme": "dark"}}},
        token=token,
    )
    assert body["data"]["updateMe"]["user"]["fullName"] == "Nest", body


FIRST = "query($n: Int!) { users(first: $n) { nodes { id } } }"
UPDATE = "mutation($i: UpdateMeInput!) { updateMe(input: $i) { user { id } } }"


@pytest.mark.parametrize(
    ("query", "variables", "code"),
    [
        (FIRST, {"n": 469610.5}, "BAD_USER_INPUT"),
        (FIRST, {"n": "ten"}, "BAD_USER_INPUT"),
        (FIRST, {"n": 2**40}, "BAD_USER_INPUT"),
        (FIRST, {}, "BAD_USER_INPUT"),
        ("query($u: ID!) { user(id: $u) { id } }", {"u": {"x": 1}}, "BAD_USER_INPUT"),
        (UPDATE, {"i": {"fullName": 5}}, "BAD_USER_INPUT"),
        (UPDATE, {"i": {"role": "ADMIN"}}, "BAD_USER_INPUT"),
        ('{ users(first: "ten") { nodes { id } } }', None, "GRAPHQL_VALIDATION_FAILED"),
        ("{ users(first: 1.5) { nodes { id } } }", None, "GRAPHQL_VALIDATION_FAILED"),
    ],
)
async def test_wrong_scalar_types(
    api: Api, query: str, variables: dict[str, Any] | None, code: str
) -> None:
    token = await api.user("scalars", Role.ADMIN)
    r = await api.client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 200, r.text
    error = only_error(r.json())
    assert error["extensions"]["code"] == code, error


# Row 33: several operations without operationName; an unknown operationName.
@pytest.mark.parametrize("operation_name", [None, "Missing"])
async def test_operation_selection(api: Api, operation_name: str | None) -> None:
    document = "query A { __typename } mutation B { " + register_doc("opsel")[len("mutation { ") :]
    r = await api.client.post("/graphql", json={"query": document, "operationName": operation_name})
    error = r.json()["errors"][0]
    if operation_name is None:  # a validation error, as graphql-core words it
        assert r.status_code == 200 and r.json()["data"] is None, r.text
        assert error["message"].startswith("Must provide operation name"), error
        assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    else:
        assert r.status_code == 400, r.text
        assert error["extensions"]["code"] == "BAD_REQUEST"
    assert not await user_exists(api, "opsel")


async def test_named_operation_runs(api: Api) -> None:
    document = "query A { __typename } query B { me { id } }"
    r = await api.client.post("/graphql", json={"query": document, "operationName": "A"})
    assert r.json() == {"data": {"__typename": "Query"}}
