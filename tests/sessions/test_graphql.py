"""The GraphQL face of chat, sessions and quizzes: same rules, same outcomes as REST."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import StatementCounter
from tests.sessions.conftest import AltApp, World
from tests.upstream_stub import Stub, free_port

SEND = """
mutation($s: ID!, $subj: ID!, $c: String!) {
  sendMessage(input: {sessionId: $s, subjectId: $subj, content: $c}) {
    session { sessionId subjectCode title messageCount lastError }
    userMessage { id role content status }
    assistantMessage { role content status }
    interrupted
    pendingQuestion { questionNum totalQuestions questionText action }
  }
}"""

ANSWER = """
mutation($s: ID!, $a: String!, $i: Int!) {
  answerQuestion(input: {sessionId: $s, answer: $a, questionIndex: $i}) {
    interrupted
    pendingQuestion { questionNum }
    assistantMessage { content }
    quizAttempt { correct total percentage }
  }
}"""


def code(body: dict[str, Any]) -> str:
    assert body.get("errors"), body
    value: str = body["errors"][0]["extensions"]["code"]
    return value


async def send(world: World, token: str, s: str, c: str, subj: str = "INF001") -> dict[str, Any]:
    return await world.api.gql(SEND, {"s": s, "subj": subj, "c": c}, token=token)


async def test_send_message_returns_the_stored_messages(world: World) -> None:
    body = await send(world, world.ana, "g-1", "¿Qué es un grafo?")
    data = body["data"]["sendMessage"]
    assert data["session"] == {
        "sessionId": "g-1",
        "subjectCode": "INF001",
        "title": "¿Qué es un grafo?",
        "messageCount": 2,
        "lastError": None,
    }
    assert data["userMessage"]["status"] == "ANSWERED" and data["userMessage"]["role"] == "USER"
    assert data["assistantMessage"]["role"] == "ASSISTANT"
    assert "grafo" in data["assistantMessage"]["content"]
    assert data["interrupted"] is False and data["pendingQuestion"] is None


async def test_quiz_over_graphql(world: World) -> None:
    data = (await send(world, world.ana, "gq", "un test, por favor"))["data"]["sendMessage"]
    assert data["interrupted"] is True
    assert data["pendingQuestion"]["questionNum"] == 1
    assert data["pendingQuestion"]["totalQuestions"] == 3
    assert data["pendingQuestion"]["action"] == "answer_question"
    bad = await world.api.gql(ANSWER, {"s": "gq", "a": "x", "i": 3}, token=world.ana)
    assert code(bad) == "BAD_USER_INPUT"
    for i, answer in enumerate(["n log n", "pila", "nueve"], start=1):
        body = await world.api.gql(ANSWER, {"s": "gq", "a": answer, "i": i}, token=world.ana)
        assert "errors" not in body, body
    result = body["data"]["answerQuestion"]
    assert result["interrupted"] is False and result["pendingQuestion"] is None
    assert result["quizAttempt"] == {"correct": 2, "total": 3, "percentage": 66.67}
    none_pending = await world.api.gql(ANSWER, {"s": "gq", "a": "x", "i": 1}, token=world.ana)
    assert code(none_pending) == "BAD_USER_INPUT"


@pytest.mark.parametrize(
    ("who", "session", "subject", "expected"),
    [
        ("carl", "g-x", "INF001", "FORBIDDEN"),
        ("bob", "g-owned", "INF001", "FORBIDDEN"),
        ("ana", "../admin", "INF001", "BAD_USER_INPUT"),
        ("ana", "g-y", "INF 001", "BAD_USER_INPUT"),
        ("ana", "g-z", "NOPE", "NOT_FOUND"),
        (None, "g-w", "INF001", "UNAUTHENTICATED"),
    ],
)
async def test_send_message_refusals(
    world: World, stub: Stub, who: str | None, session: str, subject: str, expected: str
) -> None:
    await send(world, world.ana, "g-owned", "mía")
    stub.requests.clear()
    token = getattr(world, who) if who else None
    body = await world.api.gql(SEND, {"s": session, "subj": subject, "c": "hola"}, token=token)
    assert code(body) == expected
    assert body["data"] is None
    assert stub.requests == []


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("html500", "UPSTREAM_BAD_RESPONSE"),
        ("malformed", "UPSTREAM_BAD_RESPONSE"),
        ("slow", "UPSTREAM_TIMEOUT"),
    ],
)
async def test_upstream_faults_on_graphql(
    world: World, stub: Stub, mode: str, expected: str
) -> None:
    stub.mode = mode
    body = await send(world, world.ana, "g-f", "¿sigues ahí?")
    assert code(body) == expected
    stub.mode = "demo"
    q = '{ session(id: "g-f") { lastError messages { nodes { content status } } } }'
    session = (await world.api.gql(q, token=world.ana))["data"]["session"]
    assert session["messages"]["nodes"] == [{"content": "¿sigues ahí?", "status": "FAILED"}]
    assert session["lastError"]


async def test_unreachable_upstream_on_graphql(world: World, alt_app: AltApp) -> None:
    async with alt_app(chatbot_url=f"http://127.0.0.1:{free_port()}") as client:
        r = await client.post(
            "/graphql",
            json={"query": SEND, "variables": {"s": "g-d", "subj": "INF001", "c": "hola"}},
            headers=world.h(world.ana),
        )
    assert code(r.json()) == "UPSTREAM_UNAVAILABLE"
    assert r.json()["errors"][0]["message"].startswith("Chatbot service unavailable: ")


async def test_sessions_connection_and_message_pages_without_n_plus_1(
    world: World, sql_counter: StatementCounter
) -> None:
    for i in range(6):
        await send(world, world.ana, f"p-{i}", f"pregunta {i}")
        await send(world, world.ana, f"p-{i}", f"otra {i}")
    await send(world, world.bob, "bob-only", "de bob")
    query = """query($first: Int!, $after: String) {
      sessions(first: $first, after: $after) {
        pageInfo { hasNextPage endCursor }
        nodes { sessionId messageCount messages(first: 2, after: null) {
          pageInfo { hasNextPage } nodes { role content } } }
      }
    }"""
    sql_counter.reset()
    page1 = (await world.api.gql(query, {"first": 4}, token=world.ana))["data"]["sessions"]
    small = sql_counter.count
    assert [n["sessionId"] for n in page1["nodes"]] == ["p-5", "p-4", "p-3", "p-2"]
    assert page1["pageInfo"]["hasNextPage"] is True
    first = page1["nodes"][0]
    assert first["messageCount"] == 4
    assert [m["content"] for m in first["messages"]["nodes"]] == [
        "pregunta 5",
        first["messages"]["nodes"][1]["content"],
    ]
    assert first["messages"]["pageInfo"]["hasNextPage"] is True
    after = page1["pageInfo"]["endCursor"]
    page2 = await world.api.gql(query, {"first": 4, "after": after}, token=world.ana)
    assert [n["sessionId"] for n in page2["data"]["sessions"]["nodes"]] == ["p-1", "p-0"]
    sql_counter.reset()
    await world.api.gql(query, {"first": 6}, token=world.ana)
    assert sql_counter.count == small  # the same statements for 6 sessions as for 4


async def test_session_messages_paging_and_cap(world: World) -> None:
    for i in range(3):
        await send(world, world.ana, "pg", f"m{i}")
    q = """query($after: String) { session(id: "pg") {
      messages(first: 4, after: $after) {
        pageInfo { endCursor hasNextPage } nodes { content } } } }"""
    first = (await world.api.gql(q, token=world.ana))["data"]["session"]["messages"]
    assert len(first["nodes"]) == 4 and first["pageInfo"]["hasNextPage"] is True
    rest = await world.api.gql(q, {"after": first["pageInfo"]["endCursor"]}, token=world.ana)
    nodes = rest["data"]["session"]["messages"]["nodes"]
    assert (
        len(nodes) == 2 and rest["data"]["session"]["messages"]["pageInfo"]["hasNextPage"] is False
    )
    too_many = await world.api.gql(
        '{ session(id: "pg") { messages(first: 101) { nodes { id } } } }', token=world.ana
    )
    assert code(too_many) == "BAD_USER_INPUT"
    assert (
        code(await world.api.gql("{ sessions(first: 0) { nodes { id } } }", token=world.ana))
        == "BAD_USER_INPUT"
    )


async def test_session_ownership_on_graphql(world: World) -> None:
    await send(world, world.ana, "own", "hola")
    q = '{ session(id: "%s") { sessionId } }'
    assert code(await world.api.gql(q % "own", token=world.bob)) == "FORBIDDEN"
    assert code(await world.api.gql(q % "missing", token=world.bob)) == "NOT_FOUND"
    assert code(await world.api.gql(q % "own")) == "UNAUTHENTICATED"
    body = await world.api.gql(q % "own", token=world.ana)
    assert body["data"]["session"]["sessionId"] == "own"


async def test_rename_and_delete_session(world: World) -> None:
    await send(world, world.ana, "rd", "hola")
    rename = """mutation($s: ID!, $t: String!) {
      renameSession(input: {sessionId: $s, title: $t}) { session { sessionId title } } }"""
    delete = """mutation($s: ID!) {
      deleteSession(input: {sessionId: $s}) { sessionId deleted } }"""
    assert code(await world.api.gql(rename, {"s": "rd", "t": "x"}, token=world.bob)) == "FORBIDDEN"
    assert (
        code(await world.api.gql(rename, {"s": "rd", "t": " "}, token=world.ana))
        == "BAD_USER_INPUT"
    )
    body = await world.api.gql(rename, {"s": "rd", "t": "Grafos"}, token=world.ana)
    assert body["data"]["renameSession"]["session"] == {"sessionId": "rd", "title": "Grafos"}
    assert code(await world.api.gql(delete, {"s": "rd"}, token=world.bob)) == "FORBIDDEN"
    assert code(await world.api.gql(delete, {"s": "zz"}, token=world.ana)) == "NOT_FOUND"
    body = await world.api.gql(delete, {"s": "rd"}, token=world.ana)
    assert body["data"]["deleteSession"] == {"sessionId": "rd", "deleted": True}
    assert (await world.session(world.ana, "rd")).status_code == 404


async def test_quiz_attempts_are_private(world: World) -> None:
    q = '{ user(id: "ana") { quizAttempts(first: 5) { nodes { id } } } }'
    assert code(await world.api.gql(q, token=world.prof)) == "FORBIDDEN"
    body = await world.api.gql(q, token=world.admin)
    assert body["data"]["user"]["quizAttempts"]["nodes"] == []
    big = "{ me { quizAttempts(first: 1000) { nodes { id } } } }"
    assert code(await world.api.gql(big, token=world.ana)) == "BAD_USER_INPUT"


async def test_sessions_link_to_their_subject_in_one_batch(
    world: World, sql_counter: StatementCounter
) -> None:
    for i in range(3):
        await send(world, world.ana, f"s-{i}", f"pregunta {i}")
    query = """query($first: Int!) { sessions(first: $first) {
        nodes { id subject { code name professor { username } } } } }"""
    sql_counter.reset()
    body = await world.api.gql(query, {"first": 2}, token=world.ana)
    few = sql_counter.count
    nodes = body["data"]["sessions"]["nodes"]
    assert [n["subject"] for n in nodes] == [
        {"code": "INF001", "name": "Algorithms", "professor": {"username": "prof"}}
    ] * 2
    sql_counter.reset()
    body = await world.api.gql(query, {"first": 3}, token=world.ana)
    assert len(body["data"]["sessions"]["nodes"]) == 3
    assert sql_counter.count == few  # subjects and professors are batched, not per session


async def test_send_message_reads_the_caller_in_its_first_statement(
    world: World, sql_counter: StatementCounter
) -> None:
    """Like REST POST /chat: the caller, their role and the subject access are one statement,
    not a separate caller lookup first."""
    minimal = "mutation($s: ID!, $c: String!) { sendMessage(input: {sessionId: $s, "
    minimal += 'subjectId: "INF001", content: $c}) { interrupted } }'
    sql_counter.reset()
    rest = await world.chat(world.ana, "stmt-rest", "¿Qué es un grafo?")
    assert rest.status_code == 200, rest.text
    rest_statements = sql_counter.count
    sql_counter.reset()
    body = await world.api.gql(minimal, {"s": "stmt-gql", "c": "¿Qué es un grafo?"}, world.ana)
    assert body == {"data": {"sendMessage": {"interrupted": False}}}
    assert sql_counter.count == rest_statements, sql_counter.statements
    # Anonymous and forged callers are still refused.
    anonymous = await world.api.gql(minimal, {"s": "stmt-anon", "c": "hola"})
    assert code(anonymous) == "UNAUTHENTICATED"
    forged = await world.api.gql(minimal, {"s": "stmt-forged", "c": "hola"}, "not-a-token")
    assert code(forged) == "UNAUTHENTICATED"
