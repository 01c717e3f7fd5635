"""The REST face of chat and sessions: POST /chat against a real upstream over HTTP (the happy
path, validation, refusals and every upstream fault, with the user's message still stored
afterwards); GET/PATCH/DELETE /sessions (listing with counts from SQL, ownership, pagination)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.sessions.conftest import AltApp, World
from tests.upstream_stub import FAULTS, SECRET_IN_ERROR, Stub, free_port


async def test_chat_creates_session_and_stores_both_messages(world: World, stub: Stub) -> None:
    r = await world.chat(world.ana, "s-1", "¿Qué es la complejidad de quicksort?")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["session_id"] == "s-1" and body["asignatura"] == "INF001"
    assert body["interrupted"] is False and body["interrupt_info"] is None
    assert body["message"]["type"] == "ai"
    assert body["response"] == body["message"]["content"]
    assert "quicksort" in body["response"]
    # the upstream heard exactly the contract's request
    assert stub.requests == [
        (
            "/chat",
            {
                "query": "¿Qué es la complejidad de quicksort?",
                "id": "s-1",
                "asignatura": "INF001",
                "user_id": "ana",
            },
        )
    ]
    detail = (await world.session(world.ana, "s-1")).json()
    assert detail["_id"] == "s-1" and detail["user_id"] == "ana" and detail["subject"] == "INF001"
    assert detail["title"] == "¿Qué es la complejidad de quicksort?"
    assert [(m["role"], m["status"]) for m in detail["messages"]] == [
        ("user", "answered"),
        ("assistant", "ok"),
    ]
    assert detail["messages"][1]["content"] == body["response"]
    assert detail["message_count"] == 2 and detail["last_error"] is None


async def test_query_is_accepted_in_place_of_content(world: World) -> None:
    r = await world.api.client.post(
        "/chat",
        json={"id": "old-client", "asignatura": "INF001", "query": "hola", "messages": []},
        headers=world.h(world.ana),
    )
    assert r.status_code == 200, r.text
    assert "hola" in r.json()["response"]


async def test_long_first_message_gives_a_short_title(world: World) -> None:
    text = "palabra " * 40
    assert (await world.chat(world.ana, "long", text)).status_code == 200
    title = (await world.session(world.ana, "long")).json()["title"]
    assert len(title) <= 60 and title.endswith("…") and title.startswith("palabra palabra")


async def test_second_message_keeps_the_session(world: World) -> None:
    await world.chat(world.ana, "s-2", "primera")
    await world.chat(world.ana, "s-2", "segunda")
    detail = (await world.session(world.ana, "s-2")).json()
    assert detail["title"] == "primera"
    assert [m["content"] for m in detail["messages"] if m["role"] == "user"] == [
        "primera",
        "segunda",
    ]


@pytest.mark.parametrize(
    "body",
    [
        {"asignatura": "INF001", "content": "no id"},
        {"id": "s", "asignatura": "INF001"},
        {"id": "s", "asignatura": "INF001", "content": "   ", "query": ""},
        {"id": "../admin", "asignatura": "INF001", "content": "x"},
        {"id": "a" * 65, "asignatura": "INF001", "content": "x"},
        {"id": "s", "asignatura": "INF/001?#", "content": "x"},
        {"id": "s", "content": "x"},
        {"id": "s", "asignatura": "INF001", "content": "x" * 20_001},
    ],
)
async def test_invalid_chat_bodies_are_422_and_never_forwarded(
    world: World, stub: Stub, body: dict[str, str]
) -> None:
    r = await world.api.client.post("/chat", json=body, headers=world.h(world.ana))
    assert r.status_code == 422, r.text
    assert isinstance(r.json()["detail"], list)
    assert stub.requests == []


async def test_chat_needs_a_token(world: World, stub: Stub) -> None:
    r = await world.api.client.post(
        "/chat", json={"id": "s", "asignatura": "INF001", "content": "x"}
    )
    assert r.status_code == 401
    r = await world.api.client.post(
        "/chat",
        json={"id": "s", "asignatura": "INF001", "content": "x"},
        headers={"Authorization": "Bearer not-a-token"},
    )
    assert r.status_code == 401
    assert stub.requests == []


async def test_student_not_enrolled_is_refused(world: World, stub: Stub) -> None:
    r = await world.chat(world.carl, "c-1", "hola")
    assert r.status_code == 403 and r.json() == {"detail": "Not enrolled in subject"}
    r = await world.chat(world.ana, "c-2", "hola", subject="MAT002")
    assert r.status_code == 403
    assert stub.requests == []
    assert (await world.session(world.carl, "c-1")).status_code == 404


async def test_unknown_subject_is_404(world: World) -> None:
    r = await world.chat(world.ana, "c-3", "hola", subject="NOPE01")
    assert r.status_code == 404 and r.json() == {"detail": "Subject not found"}


async def test_another_users_session_is_403(world: World, stub: Stub) -> None:
    assert (await world.chat(world.ana, "mine", "hola")).status_code == 200
    r = await world.chat(world.bob, "mine", "¿puedo?")
    assert r.status_code == 403 and r.json() == {"detail": "Session doesn't belong to user"}
    assert len(stub.requests) == 1
    detail = (await world.session(world.ana, "mine")).json()
    assert [m["content"] for m in detail["messages"] if m["role"] == "user"] == ["hola"]


async def test_session_of_another_subject_is_400(world: World) -> None:
    await world.api.client.post(
        "/chat",
        json={"id": "sub", "asignatura": "INF001", "content": "hola"},
        headers=world.h(world.admin),
    )
    r = await world.api.client.post(
        "/chat",
        json={"id": "sub", "asignatura": "MAT002", "content": "hola"},
        headers=world.h(world.admin),
    )
    assert r.status_code == 400


async def test_professor_and_admin_may_chat(world: World) -> None:
    assert (await world.chat(world.prof, "p-1", "hola")).status_code == 200
    assert (await world.chat(world.admin, "a-1", "hola", subject="MAT002")).status_code == 200
    assert (await world.chat(world.prof, "p-2", "hola", subject="MAT002")).status_code == 403


async def _assert_failed_and_kept(world: World, session_id: str, text: str) -> str:
    detail = (await world.session(world.ana, session_id)).json()
    assert [(m["role"], m["content"], m["status"]) for m in detail["messages"]] == [
        ("user", text, "failed")
    ]
    assert detail["last_error"]
    error: str = detail["last_error"]
    return error


@pytest.mark.parametrize("mode", FAULTS)
async def test_upstream_faults_keep_the_message(world: World, stub: Stub, mode: str) -> None:
    stub.mode = mode
    r = await world.chat(world.ana, f"f-{mode}", f"pregunta {mode}")
    expected = 504 if mode == "slow" else 502
    assert r.status_code == expected, r.text
    detail = r.json()["detail"]
    assert isinstance(detail, str) and SECRET_IN_ERROR not in r.text
    if mode == "html500":
        assert detail == "Chatbot service answered HTTP 500"
    if mode.startswith("huge"):
        assert detail == "Chatbot service reply is too large"
    assert await _assert_failed_and_kept(world, f"f-{mode}", f"pregunta {mode}") == detail
    # the next successful exchange clears the error
    stub.mode = "demo"
    assert (await world.chat(world.ana, f"f-{mode}", "otra vez")).status_code == 200
    after = (await world.session(world.ana, f"f-{mode}")).json()
    assert after["last_error"] is None
    assert [m["status"] for m in after["messages"]] == ["failed", "answered", "ok"]


async def test_unreachable_upstream_is_503(world: World, alt_app: AltApp) -> None:
    async with alt_app(chatbot_url=f"http://127.0.0.1:{free_port()}") as client:
        r = await client.post(
            "/chat",
            json={"id": "down", "asignatura": "INF001", "content": "¿hay alguien?"},
            headers=world.h(world.ana),
        )
    assert r.status_code == 503
    assert r.json()["detail"].startswith("Chatbot service unavailable: ")
    await _assert_failed_and_kept(world, "down", "¿hay alguien?")


async def test_reply_over_the_configured_cap_is_502(
    world: World, stub: Stub, alt_app: AltApp
) -> None:
    stub.mode = "script"
    stub.script = [{"message": {"type": "ai", "content": "z" * 5000}, "interrupted": False}]
    async with alt_app(chatbot_max_response_bytes=4096) as client:
        r = await client.post(
            "/chat",
            json={"id": "cap", "asignatura": "INF001", "content": "largo"},
            headers=world.h(world.ana),
        )
    assert r.status_code == 502 and r.json() == {"detail": "Chatbot service reply is too large"}


async def test_interrupted_reply_without_a_question_is_502(world: World, stub: Stub) -> None:
    stub.mode = "script"
    stub.script = [{"message": None, "interrupted": True, "interrupt_info": None}]
    r = await world.chat(world.ana, "noq", "hola")
    assert r.status_code == 502


async def test_question_only_reply_is_stored_as_the_question(world: World, stub: Stub) -> None:
    stub.mode = "script"
    info = {
        "action": "answer_question",
        "question_num": 1,
        "total_questions": 2,
        "question_text": "¿2+2?",
    }
    stub.script = [{"message": None, "interrupted": True, "interrupt_info": info}]
    r = await world.chat(world.ana, "qonly", "test")
    assert r.status_code == 200, r.text
    assert r.json()["message"] is None and r.json()["response"] == "¿2+2?"
    detail = (await world.session(world.ana, "qonly")).json()
    assert detail["pending_question"] == info
    assert detail["messages"][-1]["content"] == "¿2+2?"


def _upstream_count(metrics_text: str, outcome: str) -> float:
    prefix = f'gateway_upstream_requests_total{{outcome="{outcome}"}} '
    lines = [line for line in metrics_text.splitlines() if line.startswith(prefix)]
    return float(lines[0].removeprefix(prefix)) if lines else 0.0


async def test_upstream_calls_are_counted_by_outcome(world: World, alt_app: AltApp) -> None:
    before = (await world.api.client.get("/metrics")).text
    assert (await world.chat(world.ana, "m-1", "hola")).status_code == 200
    async with alt_app(chatbot_url=f"http://127.0.0.1:{free_port()}") as client:
        refused = await client.post(
            "/chat",
            json={"id": "m-2", "asignatura": "INF001", "content": "hola"},
            headers=world.h(world.ana),
        )
    assert refused.status_code == 503
    after = (await world.api.client.get("/metrics")).text
    assert _upstream_count(after, "ok") == _upstream_count(before, "ok") + 1
    assert _upstream_count(after, "unavailable") == _upstream_count(before, "unavailable") + 1
    assert "gateway_upstream_request_duration_seconds_bucket" in after


# --- GET/PATCH/DELETE /sessions -------------------------------------------------------------


async def test_list_sessions_with_counts_newest_first(world: World) -> None:
    await world.chat(world.ana, "first", "uno")
    await world.chat(world.ana, "second", "dos")
    await world.chat(world.ana, "second", "tres")
    await world.chat(world.bob, "bobs", "de bob")
    r = await world.api.client.get("/sessions", headers=world.h(world.ana))
    assert r.status_code == 200
    body = r.json()
    assert [(s["_id"], s["message_count"]) for s in body] == [("second", 4), ("first", 2)]
    assert set(body[0]) >= {"_id", "title", "subject", "created_at", "last_active"}
    assert body[0]["subject"] == "INF001" and body[0]["title"] == "dos"


async def test_list_sessions_filters_and_pages(world: World) -> None:
    for i in range(5):
        await world.chat(world.admin, f"inf-{i}", f"m {i}")
    await world.chat(world.admin, "mat", "álgebra", subject="MAT002")
    get = world.api.client.get
    h = world.h(world.admin)
    only_mat = (await get("/sessions", params={"subject": "MAT002"}, headers=h)).json()
    assert [s["_id"] for s in only_mat] == ["mat"]
    page = (await get("/sessions", params={"limit": 2, "skip": 1}, headers=h)).json()
    assert [s["_id"] for s in page] == ["inf-4", "inf-3"]
    for bad in ({"limit": 0}, {"limit": 101}, {"skip": -1}):
        assert (await get("/sessions", params=bad, headers=h)).status_code == 422


async def test_list_sessions_needs_a_token(world: World) -> None:
    assert (await world.api.client.get("/sessions")).status_code == 401


async def test_read_session_pages_messages(world: World) -> None:
    for i in range(3):
        await world.chat(world.ana, "talk", f"m{i}")
    r = await world.api.client.get(
        "/sessions/talk", params={"limit": 2, "skip": 1}, headers=world.h(world.ana)
    )
    assert r.status_code == 200
    assert [m["role"] for m in r.json()["messages"]] == ["assistant", "user"]
    assert r.json()["message_count"] == 6


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
async def test_other_users_session_is_403_and_unknown_is_404(world: World, method: str) -> None:
    await world.chat(world.ana, "private", "secreto")
    kwargs: dict[str, Any] = {"json": {"title": "robado"}} if method == "PATCH" else {}
    r = await world.api.client.request(
        method, "/sessions/private", headers=world.h(world.bob), **kwargs
    )
    assert r.status_code == 403 and r.json() == {"detail": "Session doesn't belong to user"}
    r = await world.api.client.request(
        method, "/sessions/nobody-has-this", headers=world.h(world.bob), **kwargs
    )
    assert r.status_code == 404 and r.json() == {"detail": "Session not found"}
    r = await world.api.client.request(method, "/sessions/private", **kwargs)
    assert r.status_code == 401
    detail = (await world.session(world.ana, "private")).json()
    assert detail["title"] == "secreto" and detail["message_count"] == 2


async def test_bad_session_id_in_path_is_400(world: World) -> None:
    r = await world.api.client.get("/sessions/bad%20id%3F", headers=world.h(world.ana))
    assert r.status_code == 400 and r.json() == {"detail": "Invalid session id"}


async def test_rename_session(world: World) -> None:
    await world.chat(world.ana, "ren", "hola")
    r = await world.api.client.patch(
        "/sessions/ren", json={"title": "  Repaso de grafos  "}, headers=world.h(world.ana)
    )
    assert r.status_code == 200 and r.json()["title"] == "Repaso de grafos"
    assert (await world.session(world.ana, "ren")).json()["title"] == "Repaso de grafos"
    for bad in ({"title": ""}, {"title": "x" * 201}, {}):
        r = await world.api.client.patch("/sessions/ren", json=bad, headers=world.h(world.ana))
        assert r.status_code == 422


async def test_delete_session_keeps_quiz_attempts(world: World) -> None:
    await world.chat(world.ana, "del", "quiero un test")
    for i, answer in enumerate(["n log n", "pila", "8"], start=1):
        r = await world.api.client.post(
            "/sessions/del/resume_chat",
            json={"answer": answer, "current_question_index": i},
            headers=world.h(world.ana),
        )
        assert r.status_code == 200, r.text
    r = await world.api.client.delete("/sessions/del", headers=world.h(world.ana))
    assert r.status_code == 204 and r.content == b""
    assert (await world.session(world.ana, "del")).status_code == 404
    assert (await world.api.client.get("/sessions", headers=world.h(world.ana))).json() == []
    body = await world.api.gql(
        "{ me { quizAttempts { nodes { correct total sessionId subjectCode } } } }",
        token=world.ana,
    )
    assert body["data"]["me"]["quizAttempts"]["nodes"] == [
        {"correct": 3, "total": 3, "sessionId": None, "subjectCode": "INF001"}
    ]
