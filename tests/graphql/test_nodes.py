"""Relay object identification: node(id:) and nodes(ids:) return every entity type by its
global id and refuse exactly what the direct field refuses, for every kind of viewer."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import pytest

from gateway.users.models import Role
from tests.conftest import Api, StatementCounter
from tests.subjects.world import add_attempt, add_session, make_world

ROLES = ("anonymous", "owner", "other_student", "own_professor", "other_professor", "admin")
OK = "ok"


@dataclass
class NodeWorld:
    tokens: dict[str, str | None]
    session: str  # gabriel's session in INF001 (prof_ana's subject)
    ids: dict[str, str]  # type name -> global id of gabriel's / INF001's object


async def node_world(api: Api) -> NodeWorld:
    w = await make_world(api)
    tokens = {
        "anonymous": None,
        "owner": w.gabriel,
        "other_student": w.maria,
        "own_professor": w.ana,
        "other_professor": w.juan,
        "admin": w.admin,
    }
    session = await add_session(api, "gabriel", "INF001", messages=1)
    await add_attempt(api, "gabriel", "INF001", 80.0, session_id=session)
    query = """query($s: ID!) {
      me { id quizAttempts { nodes { id } } }
      session(id: $s) { id messages { nodes { id } } }
      subject(id: "INF001") { id }
    }"""
    owner = (await api.gql(query, {"s": session}, token=w.gabriel))["data"]
    analytics = await api.gql('{ subject(id: "INF001") { analytics { id } } }', token=w.admin)
    ids = {
        "User": owner["me"]["id"],
        "QuizAttempt": owner["me"]["quizAttempts"]["nodes"][0]["id"],
        "ChatSession": owner["session"]["id"],
        "ChatMessage": owner["session"]["messages"]["nodes"][0]["id"],
        "Subject": owner["subject"]["id"],
        "SubjectAnalytics": analytics["data"]["subject"]["analytics"]["id"],
    }
    return NodeWorld(tokens, session, ids)


def outcome(body: dict[str, Any], found: Any, expected_id: str) -> str:
    """OK when the object came back, else the code of the (first) error."""
    if found == expected_id:
        assert not body.get("errors"), body
        return OK
    return str(body["errors"][0]["extensions"]["code"])


def dig(data: Any, *path: str) -> Any:
    for key in path:
        if data is None:
            return None
        data = data[key]
        if isinstance(data, list):
            data = data[0] if data else None
    return data


# The direct field for each type, and where the object's id is in its answer.
DIRECT: dict[str, tuple[str, tuple[str, ...]]] = {
    "User": ('{ user(id: "gabriel") { id } }', ("user", "id")),
    "Subject": ('{ subject(id: "INF001") { id } }', ("subject", "id")),
    "ChatSession": ("query($s: ID!) { session(id: $s) { id } }", ("session", "id")),
    "ChatMessage": (
        "query($s: ID!) { session(id: $s) { messages { nodes { id } } } }",
        ("session", "messages", "nodes", "id"),
    ),
    "QuizAttempt": (
        '{ user(id: "gabriel") { quizAttempts { nodes { id } } } }',
        ("user", "quizAttempts", "nodes", "id"),
    ),
    "SubjectAnalytics": (
        '{ subject(id: "INF001") { analytics { id } } }',
        ("subject", "analytics", "id"),
    ),
}

# What each role gets, per type (the same on the direct field and on node).
EXPECTED = {
    "User": ("UNAUTHENTICATED", OK, "FORBIDDEN", OK, OK, OK),
    "Subject": ("UNAUTHENTICATED", OK, OK, OK, OK, OK),
    "ChatSession": ("UNAUTHENTICATED", OK, "FORBIDDEN", "FORBIDDEN", "FORBIDDEN", "FORBIDDEN"),
    "ChatMessage": ("UNAUTHENTICATED", OK, "FORBIDDEN", "FORBIDDEN", "FORBIDDEN", "FORBIDDEN"),
    "QuizAttempt": ("UNAUTHENTICATED", OK, "FORBIDDEN", "FORBIDDEN", "FORBIDDEN", OK),
    "SubjectAnalytics": ("UNAUTHENTICATED", "FORBIDDEN", "FORBIDDEN", OK, "FORBIDDEN", OK),
}
NODE = "query($id: ID!) { node(id: $id) { __typename id } }"
# The field that refuses each type directly (a quiz attempt is reached through its user, whose
# lookup may refuse first, with its own message).
OWN_FIELD = {
    "User": "user",
    "Subject": "subject",
    "ChatSession": "session",
    "ChatMessage": "session",
    "QuizAttempt": "quizAttempts",
    "SubjectAnalytics": "analytics",
}


@pytest.mark.parametrize("role", ROLES)
async def test_node_matches_the_direct_field(api: Api, role: str) -> None:
    world = await node_world(api)
    token = world.tokens[role]
    for type_name, (query, path) in DIRECT.items():
        expected = EXPECTED[type_name][ROLES.index(role)]
        gid = world.ids[type_name]
        direct = await api.gql(query, {"s": world.session}, token=token)
        assert outcome(direct, dig(direct.get("data"), *path), gid) == expected, (type_name, direct)
        body = await api.gql(NODE, {"id": gid}, token=token)
        node = (body.get("data") or {}).get("node")
        assert outcome(body, node and node["id"], gid) == expected, (type_name, body)
        if expected == OK:
            assert node == {"__typename": type_name, "id": gid}
        else:
            assert body["data"] == {"node": None}
            assert [e["path"] for e in body["errors"]] == [["node"]]
            if direct["errors"][0]["path"][-1] == OWN_FIELD[type_name]:
                # The same message as the direct field's refusal.
                assert body["errors"][0]["message"] == direct["errors"][0]["message"]


@pytest.mark.parametrize("role", ROLES)
async def test_nodes_refuses_item_by_item(api: Api, role: str) -> None:
    world = await node_world(api)
    types = list(DIRECT)
    body = await api.gql(
        "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }",
        {"ids": [world.ids[t] for t in types]},
        token=world.tokens[role],
    )
    nodes = (body.get("data") or {}).get("nodes")
    errors = {tuple(e["path"]): e["extensions"]["code"] for e in body.get("errors", [])}
    for i, type_name in enumerate(types):
        expected = EXPECTED[type_name][ROLES.index(role)]
        if expected == OK:
            assert nodes is not None and nodes[i] == {
                "__typename": type_name,
                "id": world.ids[type_name],
            }
        elif role == "anonymous":
            assert "UNAUTHENTICATED" in errors.values()
        else:
            assert nodes is not None and nodes[i] is None
            assert errors[("nodes", i)] == expected, (type_name, body)


async def test_ids_are_unique_across_types_and_opaque(api: Api) -> None:
    world = await node_world(api)
    assert len(set(world.ids.values())) == len(world.ids)
    for type_name, gid in world.ids.items():
        assert base64.b64decode(gid).decode().startswith(f"{type_name}:")


async def test_identifier_arguments_take_a_global_id_or_the_natural_key(api: Api) -> None:
    world = await node_world(api)
    owner = world.tokens["owner"]
    by_key = await api.gql(
        "query($s: ID!) { session(id: $s) { id sessionId subjectCode } }",
        {"s": world.session},
        token=owner,
    )
    by_id = await api.gql(
        "query($s: ID!) { session(id: $s) { id sessionId subjectCode } }",
        {"s": world.ids["ChatSession"]},
        token=owner,
    )
    assert by_key == by_id and by_key["data"]["session"]["sessionId"] == world.session
    subject = await api.gql(
        "query($id: ID!) { subject(id: $id) { code } sessions(subjectId: $id) { nodes { id } } }",
        {"id": world.ids["Subject"]},
        token=owner,
    )
    assert subject["data"] == {
        "subject": {"code": "INF001"},
        "sessions": {"nodes": [{"id": world.ids["ChatSession"]}]},
    }
    prof = await api.gql(
        "query($p: ID!) { subjects(professorId: $p) { nodes { code } } }",
        {"p": "prof_ana"},
        token=owner,
    )
    ana_id = (await api.gql('{ user(id: "prof_ana") { id } }', token=world.tokens["admin"]))[
        "data"
    ]["user"]["id"]
    by_gid = await api.gql(
        "query($p: ID!) { subjects(professorId: $p) { nodes { code } } }",
        {"p": ana_id},
        token=owner,
    )
    assert (
        prof["data"]
        == by_gid["data"]
        == {"subjects": {"nodes": [{"code": "INF001"}, {"code": "INF002"}]}}
    )


@pytest.mark.parametrize(
    ("query", "type_name"),
    [
        ("query($id: ID!) { subject(id: $id) { code } }", "User"),
        ("query($id: ID!) { session(id: $id) { id } }", "Subject"),
        ("query($id: ID!) { user(id: $id) { id } }", "ChatSession"),
        ("query($id: ID!) { sessions(subjectId: $id) { nodes { id } } }", "QuizAttempt"),
        ("mutation($id: ID!) { enroll(input: {subjectId: $id}) { message } }", "User"),
    ],
)
async def test_a_global_id_of_the_wrong_type_is_bad_input(
    api: Api, query: str, type_name: str
) -> None:
    world = await node_world(api)
    body = await api.gql(query, {"id": world.ids[type_name]}, token=world.tokens["owner"])
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body


@pytest.mark.parametrize(
    "bad",
    [
        "INF001",
        "",
        "%%%",
        base64.b64encode(b"Nope:1").decode(),
        base64.b64encode(b"User:x").decode(),
    ],
)
async def test_node_with_a_malformed_id_is_bad_input(api: Api, bad: str) -> None:
    token = await api.user("someone", Role.STUDENT)
    body = await api.gql(NODE, {"id": bad}, token=token)
    assert body["data"] == {"node": None}
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body


async def test_nodes_are_batched_per_type(api: Api, sql_counter: StatementCounter) -> None:
    world = await node_world(api)
    subjects = [base64.b64encode(f"Subject:{c}".encode()).decode() for c in ("INF001", "INF002")]
    sql_counter.reset()
    body = await api.gql(
        "query($ids: [ID!]!) { nodes(ids: $ids) { ... on Subject { code } } }",
        {"ids": [*subjects, world.ids["User"]]},
        token=world.tokens["admin"],
    )
    assert body["data"]["nodes"][:2] == [{"code": "INF001"}, {"code": "INF002"}]
    reads = [s for s in sql_counter.statements if not s.startswith("PRAGMA")]
    # caller, the two subjects in one statement, the user with their subject codes
    assert len(reads) == 3, reads
