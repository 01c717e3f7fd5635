"""GET/PATCH/DELETE /sessions: listing with counts from SQL, ownership and pagination."""

from __future__ import annotations

from typing import Any

import pytest

from tests.chat.conftest import World


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
