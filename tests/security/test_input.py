"""Hostile input through both faces: strings, sizes, encodings, content types, extra fields."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from gateway.users.models import Role
from tests.conftest import PASSWORD, Api

HOSTILE_NAMES = [
    "Robert'); DROP TABLE users;--",
    "%' OR 1=1 --",
    '" OR ""="',
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "{{7*7}} ${7*7} `id`",
    "\u202eevil\u202c mixed",
    "مرحبا بالعالم",
    "Zoë 👩‍🎓🔥 名前",
    "back\\slash and 'quotes'",
]

REGISTER_GQL = (
    "mutation($i: RegisterInput!) { register(input: $i) { user { username fullName role } } }"
)
UPDATE_GQL = "mutation($i: UpdateMeInput!) { updateMe(input: $i) { user { fullName role } } }"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def gql_register_input(username: str, **extra: Any) -> dict[str, Any]:
    return {
        "username": username,
        "email": f"{username}@example.com",
        "password": PASSWORD,
        **extra,
    }


def gql_code(body: dict[str, Any]) -> str:
    # A refused nullable root field is null with its error; a non-null one nulls `data`.
    assert not any((body.get("data") or {}).values()), body
    code: str = body["errors"][0]["extensions"]["code"]
    return code


@pytest.mark.parametrize("name", HOSTILE_NAMES)
async def test_hostile_strings_round_trip_rest(api: Api, name: str) -> None:
    r = await api.register("rester", full_name=name)
    assert r.status_code == 201, r.text
    assert r.json()["full_name"] == name
    token = await api.token("rester")
    assert (await api.client.get("/users/me", headers=auth(token))).json()["full_name"] == name
    changed = await api.client.put("/users/me", json={"full_name": name[::-1]}, headers=auth(token))
    assert changed.json()["full_name"] == name[::-1].strip()


@pytest.mark.parametrize("name", HOSTILE_NAMES)
async def test_hostile_strings_round_trip_graphql(api: Api, name: str) -> None:
    body = await api.gql(REGISTER_GQL, {"i": gql_register_input("gqler", fullName=name)})
    assert body["data"]["register"]["user"]["fullName"] == name, body
    token = await api.token("gqler")
    body = await api.gql(UPDATE_GQL, {"i": {"fullName": name[::-1]}}, token=token)
    assert body["data"]["updateMe"]["user"]["fullName"] == name[::-1].strip(), body
    assert (await api.gql("{ me { fullName } }", token=token))["data"]["me"]["fullName"] == (
        name[::-1].strip()
    )


async def test_users_table_survives(api: Api) -> None:
    await api.register("bobby", full_name="Robert'); DROP TABLE users;--")
    admin = await api.user("root", Role.ADMIN)
    listed = await api.client.get("/admin/users", headers=auth(admin))
    assert {u["username"] for u in listed.json()} == {"bobby", "root"}


# NUL bytes: PostgreSQL refuses them in text, SQLite accepts them; the answer must not differ.
NUL_FIELDS = [
    {"full_name": "a\x00b"},
    {"username": "nul\x00user"},
    {"email": "nul\x00@example.com"},
]


@pytest.mark.parametrize("field", NUL_FIELDS, ids=lambda f: next(iter(f)))
async def test_nul_bytes_in_register(api: Api, field: dict[str, str]) -> None:
    key, value = next(iter(field.items()))
    body_rest = {"username": "nully", "email": "nully@example.com", "password": PASSWORD, **field}
    r = await api.client.post("/register", json=body_rest)
    assert r.status_code == 422, r.text
    camel = {"full_name": "fullName"}.get(key, key)
    body = await api.gql(REGISTER_GQL, {"i": {**gql_register_input("nully"), camel: value}})
    assert gql_code(body) == "BAD_USER_INPUT"


async def test_nul_bytes_in_update_me(api: Api) -> None:
    token = await api.user("nuller")
    r = await api.client.put("/users/me", json={"full_name": "x\x00"}, headers=auth(token))
    assert r.status_code == 422
    body = await api.gql(UPDATE_GQL, {"i": {"fullName": "x\x00"}}, token=token)
    assert gql_code(body) == "BAD_USER_INPUT"


async def test_nul_bytes_in_lookups(api: Api) -> None:
    admin = await api.user("root", Role.ADMIN)
    for path in ("/users/a%00b", "/admin/users/a%00b/role"):
        method = "GET" if path.startswith("/users") else "POST"
        r = await api.client.request(method, path, json={"role": "STUDENT"}, headers=auth(admin))
        assert r.status_code == 404, (path, r.text)
    body = await api.gql('{ user(id: "a\\u0000b") { id } }', token=admin)
    assert gql_code(body) == "NOT_FOUND"
    login = await api.client.post("/token", data={"username": "a\x00b", "password": PASSWORD})
    assert login.status_code == 401
    body = await api.gql(
        'mutation { login(input: {username: "a\\u0000b", password: "x"}) { accessToken } }'
    )
    assert gql_code(body) == "UNAUTHENTICATED"


MEGABYTE = "x" * 1_000_000


@pytest.mark.parametrize("field", ["full_name", "username", "email", "password"])
async def test_one_megabyte_strings_rest(api: Api, field: str) -> None:
    started = time.perf_counter()
    body = {"username": "huge", "email": "huge@example.com", "password": PASSWORD}
    r = await api.client.post("/register", json={**body, field: MEGABYTE})
    assert r.status_code == 422, r.text[:300]
    assert time.perf_counter() - started < 2
    assert MEGABYTE not in r.text  # the value is not echoed back


@pytest.mark.parametrize("field", ["fullName", "username", "email", "password"])
async def test_one_megabyte_strings_graphql(api: Api, field: str) -> None:
    body = await api.gql(REGISTER_GQL, {"i": {**gql_register_input("huge"), field: MEGABYTE}})
    assert gql_code(body) == "BAD_USER_INPUT"
    assert MEGABYTE not in json.dumps(body)


async def test_one_megabyte_update_me(api: Api) -> None:
    token = await api.user("bigname")
    r = await api.client.put("/users/me", json={"full_name": MEGABYTE}, headers=auth(token))
    assert r.status_code == 422
    body = await api.gql(UPDATE_GQL, {"i": {"fullName": MEGABYTE}}, token=token)
    assert gql_code(body) == "BAD_USER_INPUT"


@pytest.mark.parametrize("length", [257, 10_000, 1_000_000])
async def test_absurd_passwords_are_refused_quickly(api: Api, length: int) -> None:
    await api.register("pwuser")
    password = "p" * length
    started = time.perf_counter()
    r = await api.register("pwnew", password=password)
    assert r.status_code == 422
    login = await api.client.post("/token", data={"username": "pwuser", "password": password})
    assert login.status_code in (401, 422), login.text[:200]
    body = await api.gql(
        'mutation($p: String!) { login(input: {username: "pwuser", password: $p}) '
        "{ accessToken } }",
        {"p": password},
    )
    assert gql_code(body) == "UNAUTHENTICATED"
    body = await api.gql(REGISTER_GQL, {"i": gql_register_input("pwgql", password=password)})
    assert gql_code(body) == "BAD_USER_INPUT"
    assert time.perf_counter() - started < 3


@pytest.mark.parametrize(
    "raw",
    [
        b'{"username": "\xff\xfe", "email": "a@example.com", "password": "correct-horse"}',
        b'{"username": "abc", "email": "a@example.com", "password": "\xc3\x28\xa0\xa1xxxxxx"}',
        b"\xef\xbb\xbf\xff",
        b'{"username": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b"{not json",
    ],
)
async def test_invalid_bytes_in_register_body(api: Api, raw: bytes) -> None:
    r = await api.client.post(
        "/register", content=raw, headers={"Content-Type": "application/json"}
    )
    assert 400 <= r.status_code < 500, r.text[:300]
    g = await api.client.post(
        "/graphql",
        content=b'{"query": "mutation { register(input: $i) { user { id } } }", "variables": '
        + raw
        + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert g.status_code == 400, g.text[:300]


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"]
)
async def test_register_with_wrong_content_type(api: Api, content_type: str) -> None:
    body = json.dumps({"username": "ctype", "email": "ctype@example.com", "password": PASSWORD})
    r = await api.client.post("/register", content=body, headers={"Content-Type": content_type})
    assert r.status_code == 422, r.text
    assert (
        await api.client.post("/token", data={"username": "ctype", "password": PASSWORD})
    ).status_code == 401


async def test_token_with_json_body(api: Api) -> None:
    await api.register("jsonlogin")
    r = await api.client.post("/token", json={"username": "jsonlogin", "password": PASSWORD})
    assert r.status_code == 422


@pytest.mark.parametrize(
    "query",
    ["limit=100000", "limit=0", "limit=-1", "skip=-1", "limit=abc", "skip=1e3", f"skip={10**30}"],
)
async def test_pagination_out_of_range_rest(api: Api, query: str) -> None:
    admin = await api.user("root", Role.ADMIN)
    r = await api.client.get(f"/admin/users?{query}", headers=auth(admin))
    assert r.status_code == 422, r.text


async def test_pagination_at_the_cap(api: Api) -> None:
    admin = await api.user("root", Role.ADMIN)
    r = await api.client.get("/admin/users?limit=100&skip=1000000", headers=auth(admin))
    assert r.status_code == 200 and r.json() == []
    body = await api.gql(
        '{ users(first: 100, after: "b2Zmc2V0Ojk5OTk5OTk5OTk=") { nodes { id } } }', token=admin
    )
    assert gql_code(body) == "BAD_USER_INPUT"  # a cursor past the bound


@pytest.mark.parametrize("role", ["admin", "ADMIN", "professor", "Professor"])
async def test_register_with_elevated_role_is_forbidden(api: Api, role: str) -> None:
    """Documented: self-registration may only create STUDENT accounts; asking for more is 403."""
    r = await api.register("climber", role=role)
    assert r.status_code == 403
    assert r.json() == {"detail": "Self-registration can only create STUDENT accounts"}
    body = await api.gql(REGISTER_GQL, {"i": gql_register_input("climber", role=role.upper())})
    assert gql_code(body) == "FORBIDDEN"
    login = await api.client.post("/token", data={"username": "climber", "password": PASSWORD})
    assert login.status_code == 401


async def test_register_with_unknown_role_is_bad_input(api: Api) -> None:
    r = await api.register("climber", role="superuser")
    assert r.status_code == 422


async def test_register_extra_fields_ignored(api: Api) -> None:
    r = await api.register("extra", role="student", is_admin=True, id="x", hashed_password="h")
    assert r.status_code == 201
    assert r.json()["role"] == "STUDENT"
    assert set(r.json()) == {"username", "email", "full_name", "role", "subjects"}


async def test_update_me_ignores_role_and_username(api: Api) -> None:
    token = await api.user("plain")
    r = await api.client.put(
        "/users/me",
        json={"role": "ADMIN", "username": "root", "full_name": "Plain", "hashed_password": "x"},
        headers=auth(token),
    )
    assert r.status_code == 200, r.text
    assert r.json()["role"] == "STUDENT" and r.json()["username"] == "plain"
    assert (await api.client.get("/admin/users", headers=auth(token))).status_code == 403
    await api.token("plain")  # password unchanged
    body = await api.gql(
        'mutation { updateMe(input: {role: ADMIN, username: "root"}) { user { role } } }',
        token=token,
    )
    assert gql_code(body) == "GRAPHQL_VALIDATION_FAILED"


async def test_response_keys_are_whitelisted(api: Api) -> None:
    professor = await api.user("prof", Role.PROFESSOR)
    admin = await api.user("root", Role.ADMIN)
    await api.user("stud")
    r = await api.client.get("/users/stud", headers=auth(professor))
    assert set(r.json()) == {"username", "email", "full_name", "role", "subjects"}
    me = await api.client.get("/users/me", headers=auth(professor))
    assert set(me.json()) == {"username", "email", "full_name", "role", "subjects", "preferences"}
    listed = await api.client.get("/admin/users", headers=auth(admin))
    for user in listed.json():
        assert set(user) == {"username", "email", "full_name", "role", "subjects", "created_at"}
    for text in (r.text, me.text, listed.text):
        assert "hashed" not in text and "argon2" not in text and "password" not in text
    for field in ("hashedPassword", "passwordHash", "password"):
        body = await api.gql(f'{{ user(id: "stud") {{ {field} }} }}', token=professor)
        assert gql_code(body) == "GRAPHQL_VALIDATION_FAILED"
