"""The chat flow's writes under concurrency and interleaving (issue 13, items 4-6): one answer
per quiz question, each chat step one transaction, integrity errors as 4xx, and follow-up
writes that never land in another user's (or a newer) session. Both databases."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, func, select

from gateway.sessions import repository
from gateway.sessions.models import ChatSession, Message, QuizAttempt
from gateway.subjects.models import Subject
from tests.sessions.conftest import World
from tests.sessions.test_quiz import resume, start_quiz
from tests.upstream_stub import Held, Stub

ANSWER = """
mutation($s: ID!, $a: String!, $i: Int!) {
  answerQuestion(input: {sessionId: $s, answer: $a, questionIndex: $i}) {
    interrupted
    quizAttempt { correct total }
  }
}"""


def outcome(response: httpx.Response) -> str:
    if response.status_code >= 500:
        return "BROKEN"
    if response.url.path != "/graphql":
        return "won" if response.status_code == 200 else str(response.status_code)
    body = response.json()
    if body.get("errors"):
        return str(body["errors"][0]["extensions"]["code"])
    return "won"


async def attempts(world: World) -> int:
    async with world.api.gateway.db.read() as db:
        return int(await db.scalar(select(func.count()).select_from(QuizAttempt)) or 0)


async def pending(world: World, session_id: str) -> Any:
    async with world.api.gateway.db.read() as db:
        return await db.scalar(
            select(ChatSession.pending_question).where(ChatSession.id == session_id)
        )


@pytest.mark.parametrize("faces", ["rest", "graphql", "both"])
async def test_a_double_submitted_final_answer_is_scored_once(world: World, faces: str) -> None:
    await start_quiz(world)
    for i, answer in enumerate(["O(n log n)", "una cola"], start=1):
        assert (await resume(world, world.ana, "quiz", answer, i)).status_code == 200
    client = world.api.client

    def rest() -> Any:
        return resume(world, world.ana, "quiz", "8 bits", 3)

    def gql() -> Any:
        variables = {"s": "quiz", "a": "8 bits", "i": 3}
        return client.post(
            "/graphql", json={"query": ANSWER, "variables": variables}, headers=world.h(world.ana)
        )

    makers = {"rest": [rest] * 3, "graphql": [gql] * 3, "both": [rest, gql, rest, gql]}[faces]
    responses = await asyncio.gather(*[make() for make in makers])
    outcomes = Counter(outcome(r) for r in responses)
    assert outcomes["won"] == 1, [r.text for r in responses]
    assert set(outcomes) <= {"won", "400", "CONFLICT", "BAD_USER_INPUT"}, outcomes
    assert await attempts(world) == 1
    assert await pending(world, "quiz") is None  # no loser put the last question back


async def test_concurrent_answers_to_a_middle_question_claim_it_once(
    world: World, stub: Stub
) -> None:
    await start_quiz(world)
    responses = await asyncio.gather(
        *[resume(world, world.ana, "quiz", "O(n log n)", 1) for _ in range(4)]
    )
    assert sorted(r.status_code for r in responses) == [200, 400, 400, 400]
    assert [path for path, _ in stub.requests].count("/resume_chat") == 1
    assert (await pending(world, "quiz"))["question_num"] == 2


async def test_a_strangers_refused_chat_leaves_the_session_untouched(world: World) -> None:
    assert (await world.chat(world.ana, "mine", "hola")).status_code == 200
    async with world.api.gateway.db.read() as db:
        before = await db.scalar(select(ChatSession.last_active).where(ChatSession.id == "mine"))
    r = await world.chat(world.bob, "mine", "hola")
    assert r.status_code == 403, r.text
    async with world.api.gateway.db.read() as db:
        after = await db.scalar(select(ChatSession.last_active).where(ChatSession.id == "mine"))
        count = await db.scalar(select(func.count()).select_from(Message))
    assert after == before  # the upsert's bump was rolled back with the refusal
    assert count == 2


async def test_a_subject_deleted_while_a_chat_starts_gives_404(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The subject is deleted (by another connection, committed) between the access check and
    the session's creation: the foreign key refuses the insert, and the client gets a 404."""
    original = repository.touch_or_create_session

    async def subject_goes_away(*args: Any, **kwargs: Any) -> Any:
        async with world.api.gateway.db.transaction() as db:
            await db.execute(delete(Subject).where(Subject.id == kwargs["subject_id"]))
        return await original(*args, **kwargs)

    monkeypatch.setattr(repository, "touch_or_create_session", subject_goes_away)
    r = await world.chat(world.ana, "gone", "hola")
    assert r.status_code == 404, r.text
    assert r.json() == {"detail": "Subject not found"}
    body = await world.api.gql(
        'mutation { sendMessage(input: {sessionId: "gone2", subjectId: "MAT002",'
        ' content: "hola"}) { interrupted } }',
        token=world.admin,
    )
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND", body


async def test_a_failed_chat_never_writes_into_a_recreated_session(
    world: World, stub: Stub
) -> None:
    """Ana's chat fails only after she deleted the session and Bob created one with the same
    id: nothing of Ana's failure (lastError, FAILED status) may land in Bob's session."""
    held = stub.held = Held(fault="html500")
    ana_chat = asyncio.create_task(world.chat(world.ana, "shared", "pregunta de ana"))
    assert await asyncio.to_thread(held.arrived.wait, 30)
    r = await world.api.client.delete("/sessions/shared", headers=world.h(world.ana))
    assert r.status_code == 204, r.text
    assert (await world.chat(world.bob, "shared", "pregunta de bob")).status_code == 200
    held.release.set()
    assert (await ana_chat).status_code == 502

    bob = (await world.session(world.bob, "shared")).json()
    assert bob["last_error"] is None
    assert [(m["role"], m["status"]) for m in bob["messages"]] == [
        ("user", "answered"),
        ("assistant", "ok"),
    ]


async def test_a_failed_answer_never_restores_a_question_into_a_recreated_session(
    world: World, stub: Stub
) -> None:
    await start_quiz(world, "q")
    held = stub.held = Held(fault="html500")
    answer = asyncio.create_task(resume(world, world.ana, "q", "O(n log n)", 1))
    assert await asyncio.to_thread(held.arrived.wait, 30)
    assert (await world.api.client.delete("/sessions/q", headers=world.h(world.ana))).is_success
    assert (await world.chat(world.bob, "q", "hola")).status_code == 200
    held.release.set()
    assert (await answer).status_code == 502
    bob = (await world.session(world.bob, "q")).json()
    assert bob["pending_question"] is None and bob["last_error"] is None


async def test_message_ids_are_never_reused(world: World) -> None:
    """SQLite reuses the highest rowid after a delete unless the table is AUTOINCREMENT."""
    assert (await world.chat(world.ana, "first", "hola")).status_code == 200
    async with world.api.gateway.db.read() as db:
        highest = await db.scalar(select(func.max(Message.id)))
    assert (await world.api.client.delete("/sessions/first", headers=world.h(world.ana))).is_success
    assert (await world.chat(world.ana, "second", "hola")).status_code == 200
    async with world.api.gateway.db.read() as db:
        lowest = await db.scalar(select(func.min(Message.id)))
    assert highest is not None and lowest is not None and lowest > highest


async def test_chats_racing_a_subject_delete_never_500(world: World) -> None:
    """The same race for real: chats start on both faces while an admin deletes the subject."""
    client = world.api.client
    send = (
        'mutation($s: ID!) { sendMessage(input: {sessionId: $s, subjectId: "INF001",'
        ' content: "hola"}) { interrupted } }'
    )
    chats = [world.chat(world.ana, f"race-{i}", "hola") for i in range(8)]
    chats += [
        client.post(
            "/graphql",
            json={"query": send, "variables": {"s": f"race-gql-{i}"}},
            headers=world.h(world.bob),
        )
        for i in range(8)
    ]
    removal = client.delete("/subjects/INF001", headers=world.h(world.admin))
    *responses, deleted = await asyncio.gather(*chats, removal)
    assert deleted.status_code == 204, deleted.text
    outcomes = Counter(outcome(r) for r in responses)
    assert set(outcomes) <= {"won", "403", "404", "FORBIDDEN", "NOT_FOUND"}, [
        r.text for r in responses if outcome(r) == "BROKEN"
    ]
