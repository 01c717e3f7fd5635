"""Quizzes: resume_chat against the upstream, the 400 rules, and the recorded score."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from gateway.sessions import quiz
from tests.sessions.conftest import World
from tests.upstream_stub import Stub


async def resume(
    world: World, token: str, session_id: str, answer: Any, index: Any
) -> httpx.Response:
    return await world.api.client.post(
        f"/sessions/{session_id}/resume_chat",
        json={"answer": answer, "current_question_index": index},
        headers=world.h(token),
    )


async def start_quiz(world: World, session_id: str = "quiz") -> dict[str, Any]:
    r = await world.chat(world.ana, session_id, "Hazme un test de algoritmos")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_full_quiz_records_the_structured_score(world: World, stub: Stub) -> None:
    started = await start_quiz(world)
    assert started["interrupted"] is True
    assert started["interrupt_info"]["question_num"] == 1
    assert started["interrupt_info"]["total_questions"] == 3
    session = (await world.session(world.ana, "quiz")).json()
    assert session["pending_question"]["question_num"] == 1

    r = await resume(world, world.ana, "quiz", "O(n log n)", 1)
    assert r.status_code == 200 and r.json()["interrupt_info"]["question_num"] == 2
    assert r.json()["score"] is None
    r = await resume(world, world.ana, "quiz", "una cola", 2)
    assert r.status_code == 200 and r.json()["interrupt_info"]["question_num"] == 3
    r = await resume(world, world.ana, "quiz", "8 bits", 3)
    assert r.status_code == 200, r.text
    final = r.json()
    assert final["interrupted"] is False and final["interrupt_info"] is None
    assert "Puntuación: 2/3 (67%)" in final["response"]
    assert final["score"] == {"correct": 2, "total": 3, "percentage": 66.67}
    assert stub.requests[1] == ("/resume_chat", {"id": "quiz", "user_response": "O(n log n)"})

    session = (await world.session(world.ana, "quiz")).json()
    assert session["pending_question"] is None
    assert [m["role"] for m in session["messages"]] == ["user", "assistant"] * 4
    body = await world.api.gql(
        "{ me { quizAttempts { nodes { correct total percentage subjectCode sessionId"
        " subject { name } } } } }",
        token=world.ana,
    )
    [attempt] = body["data"]["me"]["quizAttempts"]["nodes"]
    assert attempt["correct"] == 2 and attempt["total"] == 3 and attempt["percentage"] == 66.67
    assert attempt["subjectCode"] == "INF001" and attempt["sessionId"] == "quiz"
    assert attempt["subject"] == {"name": "Algorithms"}


async def test_score_is_parsed_from_the_text_line_without_structured_score(
    world: World, stub: Stub
) -> None:
    stub.structured_score = False
    await start_quiz(world, "plain")
    for i, answer in enumerate(["nlogn", "pila", "ocho"], start=1):
        r = await resume(world, world.ana, "plain", answer, i)
        assert r.status_code == 200
    assert r.json()["score"] == {"correct": 3, "total": 3, "percentage": 100.0}


async def test_structured_score_wins_over_the_text(world: World, stub: Stub) -> None:
    await start_quiz(world, "both")
    stub.mode = "script"
    stub.script = [
        {
            "message": {"type": "ai", "content": "Puntuación: 1/5 (20%)"},
            "interrupted": False,
            "score": {"correct": 4, "total": 5},
        }
    ]
    r = await resume(world, world.ana, "both", "respuesta", 1)
    assert r.json()["score"] == {"correct": 4, "total": 5, "percentage": 80.0}


async def test_a_score_line_in_ordinary_chat_records_nothing(world: World) -> None:
    r = await world.chat(world.ana, "fake", "Puntuación: 10/10 (100%)")
    assert r.status_code == 200 and "Puntuación: 10/10" in r.json()["response"]
    body = await world.api.gql("{ me { quizAttempts { nodes { id } } } }", token=world.ana)
    assert body["data"]["me"]["quizAttempts"]["nodes"] == []


async def test_resume_rules(world: World) -> None:
    await world.chat(world.ana, "calm", "hola")
    r = await resume(world, world.ana, "calm", "algo", 1)
    assert r.status_code == 400 and r.json() == {"detail": "No pending question in this session"}
    await start_quiz(world)
    r = await resume(world, world.ana, "quiz", "   ", 1)
    assert r.status_code == 400 and r.json() == {"detail": "Answer must be a non-empty string"}
    r = await resume(world, world.ana, "quiz", "n log n", 2)
    assert r.status_code == 400 and "not the pending question (1)" in r.json()["detail"]
    assert (await resume(world, world.bob, "quiz", "n log n", 1)).status_code == 403
    assert (await resume(world, world.ana, "nope", "n log n", 1)).status_code == 404
    assert (await resume(world, world.ana, "quiz", "n log n", "uno")).status_code == 422
    assert (await resume(world, "bad", "quiz", "n log n", 1)).status_code == 401
    # none of that consumed the question
    r = await resume(world, world.ana, "quiz", "n log n", 1)
    assert r.status_code == 200 and r.json()["interrupt_info"]["question_num"] == 2


async def test_failed_answer_keeps_the_question_pending(world: World, stub: Stub) -> None:
    await start_quiz(world)
    stub.mode = "html500"
    r = await resume(world, world.ana, "quiz", "n log n", 1)
    assert r.status_code == 502
    session = (await world.session(world.ana, "quiz")).json()
    assert session["pending_question"]["question_num"] == 1
    assert session["messages"][-1] == {
        **session["messages"][-1],
        "content": "n log n",
        "status": "failed",
    }
    stub.mode = "demo"
    r = await resume(world, world.ana, "quiz", "n log n", 1)
    assert r.status_code == 200 and r.json()["interrupt_info"]["question_num"] == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Bien.\nPuntuación: 4/5 (80%)", (4, 5)),
        ("puntuacion: 3 / 10", (3, 10)),
        ("**Puntuación:** 2/2 (100%)", (2, 2)),
        ("Puntuación: 1/4 (25%) ... Puntuación: 3/4 (75%)", (3, 4)),
        ("Puntuación: 6/5 (120%)", None),
        ("Puntuación: 0/0 (0%)", None),
        ("sin nota", None),
        ("", None),
    ],
)
def test_score_line_parsing(text: str, expected: tuple[int, int] | None) -> None:
    score = quiz.from_text(text)
    assert (None if score is None else (score.correct, score.total)) == expected


@pytest.mark.parametrize(
    ("structured", "expected"),
    [
        ({"correct": 4, "total": 5}, (4, 5)),
        ({"correct": True, "total": 5}, None),
        ({"correct": "4", "total": 5}, None),
        ({"correct": 6, "total": 5}, None),
        ([4, 5], None),
        (None, None),
    ],
)
def test_structured_score_validation(structured: object, expected: tuple[int, int] | None) -> None:
    score = quiz.from_structured(structured)
    assert (None if score is None else (score.correct, score.total)) == expected
    assert quiz.Score(1, 3).percentage == 33.33
