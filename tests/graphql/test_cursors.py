"""Keyset cursors are opaque and signed: on every connection a tampered cursor, a cursor of
another connection, garbage, or an old offset cursor is BAD_USER_INPUT (never a 500), and a
genuine one pages on."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import pytest

from gateway.users.models import Role
from tests.conftest import Api
from tests.subjects.world import add_attempt, add_session, bearer, make_world


@dataclass(frozen=True)
class Conn:
    query: str  # takes $after (and $s, a session id); pages with first: 1
    path: tuple[str, ...]  # to the connection in `data`
    viewer: str  # whose token


CONNECTIONS = {
    "subjects": Conn(
        "query($after: String) { subjects(first: 1, after: $after) { %s } }",
        ("subjects",),
        "gabriel",
    ),
    "sessions": Conn(
        "query($after: String) { sessions(first: 1, after: $after) { %s } }",
        ("sessions",),
        "gabriel",
    ),
    "messages": Conn(
        "query($after: String, $s: ID!) { session(id: $s) { messages(first: 1, after: $after) "
        "{ %s } } }",
        ("session", "messages"),
        "gabriel",
    ),
    "quizAttempts": Conn(
        "query($after: String) { me { quizAttempts(first: 1, after: $after) { %s } } }",
        ("me", "quizAttempts"),
        "gabriel",
    ),
    "users": Conn(
        "query($after: String) { users(first: 1, after: $after) { %s } }", ("users",), "admin"
    ),
    "students": Conn(
        'query($after: String) { subject(id: "INF001") { students(first: 1, after: $after) '
        "{ %s } } }",
        ("subject", "students"),
        "ana",
    ),
    "myStudents": Conn(
        "query($after: String) { myStudents(first: 1, after: $after) { %s } }",
        ("myStudents",),
        "ana",
    ),
    "studentProgress": Conn(
        'query($after: String) { subject(id: "INF001") { analytics { '
        "studentProgress(first: 1, after: $after) { %s } } } }",
        ("subject", "analytics", "studentProgress"),
        "ana",
    ),
}
PAGE = "pageInfo { hasNextPage hasPreviousPage endCursor } edges { cursor }"


@dataclass
class CursorWorld:
    api: Api
    tokens: dict[str, str]
    session: str

    async def fetch(self, name: str, after: str | None) -> dict[str, Any]:
        conn = CONNECTIONS[name]
        return await self.api.gql(
            conn.query % PAGE, {"after": after, "s": self.session}, token=self.tokens[conn.viewer]
        )

    async def first_cursor(self, name: str) -> str:
        body = await self.fetch(name, None)
        assert "errors" not in body, body
        connection: Any = body["data"]
        for key in CONNECTIONS[name].path:
            connection = connection[key]
        assert connection["pageInfo"]["hasNextPage"] is True, (name, body)
        assert connection["edges"][0]["cursor"] == connection["pageInfo"]["endCursor"]
        cursor: str = connection["pageInfo"]["endCursor"]
        return cursor


@pytest.fixture
async def world(api: Api) -> CursorWorld:
    w = await make_world(api)
    alba = await api.user("alba", Role.STUDENT)
    for code in ("INF001", "INF002"):
        r = await api.client.post(f"/subjects/{code}/enroll", headers=bearer(alba))
        assert r.status_code == 200
    await api.client.post("/subjects/INF002/enroll", headers=bearer(w.gabriel))
    session = await add_session(api, "gabriel", "INF001", messages=2)
    await add_session(api, "gabriel", "INF002")
    await add_attempt(api, "gabriel", "INF001", 50.0)
    await add_attempt(api, "gabriel", "INF001", 70.0)
    tokens = {"gabriel": w.gabriel, "admin": w.admin, "ana": w.ana}
    return CursorWorld(api, tokens, session)


def tampered(cursor: str) -> list[str]:
    body, _, mac = cursor.partition(".")
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    edited = raw.replace(b'"', b"'", 1) if b'"' in raw else raw + b" "
    forged = base64.urlsafe_b64encode(edited).rstrip(b"=").decode()
    return [
        f"{forged}.{mac}",  # payload edited, signature kept
        f"{body}.{'A' * len(mac)}",  # signature replaced
        body,  # signature dropped
        cursor[:-2],  # truncated
        "b2Zmc2V0OjA=",  # an old offset cursor ("offset:0")
        "not a cursor",
        "%%%",
        "x" * 5000,
    ]


@pytest.mark.parametrize("name", list(CONNECTIONS))
async def test_tampered_cursors_are_bad_input(world: CursorWorld, name: str) -> None:
    cursor = await world.first_cursor(name)
    following = await world.fetch(name, cursor)
    assert "errors" not in following, following
    for bad in tampered(cursor):
        body = await world.fetch(name, bad)
        codes = [e["extensions"]["code"] for e in body.get("errors", [])]
        assert codes == ["BAD_USER_INPUT"], (name, bad, body)
        assert body["errors"][0]["message"] == "after is not a valid cursor"


@pytest.mark.parametrize("name", list(CONNECTIONS))
async def test_a_cursor_of_another_connection_is_bad_input(world: CursorWorld, name: str) -> None:
    others = [other for other in CONNECTIONS if other != name]
    for other in others:
        foreign = await world.first_cursor(other)
        body = await world.fetch(name, foreign)
        codes = [e["extensions"]["code"] for e in body.get("errors", [])]
        assert codes == ["BAD_USER_INPUT"], (name, other, body)


async def test_a_genuine_cursor_pages_on(world: CursorWorld) -> None:
    for name in CONNECTIONS:
        body = await world.fetch(name, await world.first_cursor(name))
        connection: Any = body["data"]
        for key in CONNECTIONS[name].path:
            connection = connection[key]
        assert connection["pageInfo"]["hasPreviousPage"] is True, name
        assert len(connection["edges"]) == 1, name


async def test_subjects_paging_survives_inserts_before_the_cursor(world: CursorWorld) -> None:
    first = await world.fetch("subjects", None)
    page = first["data"]["subjects"]
    assert page["pageInfo"]["hasNextPage"] is True
    r = await world.api.client.post(
        "/subjects",
        json={"subject_id": "AAA1", "name": "First"},
        headers=bearer(world.tokens["admin"]),
    )
    assert r.status_code == 201
    query = "query($after: String) { subjects(first: 5, after: $after) { nodes { code } } }"
    rest = await world.api.gql(
        query, {"after": page["pageInfo"]["endCursor"]}, token=world.tokens["gabriel"]
    )
    assert [n["code"] for n in rest["data"]["subjects"]["nodes"]] == ["INF002", "MAT002"]
