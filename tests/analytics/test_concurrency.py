"""Concurrent writers on one subject lose no count: 50 quiz completions (the last answer of 50
quizzes, sent at once) while other students enroll and unenroll. On PostgreSQL they run
concurrently; SQLite serialises writers anyway, so there the same steps run one by one."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import select

from gateway.analytics import check
from gateway.analytics.aggregates import SUBJECT
from gateway.users.models import Role
from tests.conftest import Api, _base_url
from tests.subjects.world import add_attempt, bearer
from tests.upstream_stub import Stub

QUIZZES = 50
MOVERS = 20  # students who enroll (and half of them unenroll again) meanwhile
MODE = "concurrent" if _base_url().startswith("postgresql") else "serial"


async def together(mode: str, steps: list[Callable[[], Awaitable[Any]]]) -> list[Any]:
    if mode == "concurrent":
        return list(await asyncio.gather(*(step() for step in steps)))
    return [await step() for step in steps]


@pytest.mark.parametrize("mode", [MODE])
async def test_concurrent_quizzes_and_enrollments_keep_exact_counts(
    api: Api, stub: Stub, mode: str
) -> None:
    admin = await api.user("root_admin", Role.ADMIN)
    await api.user("prof_ana", Role.PROFESSOR)
    r = await api.client.post(
        "/subjects",
        json={"subject_id": "INF001", "name": "Algorithms", "professor_id": "prof_ana"},
        headers=bearer(admin),
    )
    assert r.status_code == 201
    takers = [await api.user(f"taker{i:02d}", Role.STUDENT) for i in range(QUIZZES)]
    movers = [await api.user(f"mover{i:02d}", Role.STUDENT) for i in range(MOVERS)]
    for i, token in enumerate(takers):  # each at the last question of a quiz
        h = bearer(token)
        assert (await api.client.post("/subjects/INF001/enroll", headers=h)).status_code == 200
        sid = f"00000000-0000-4000-8000-{i:012d}"
        body = {"id": sid, "asignatura": "INF001", "content": "Hazme un test"}
        assert (await api.client.post("/chat", json=body, headers=h)).status_code == 200
        for index, answer in ((1, "nlogn"), (2, "pila")):
            r = await api.client.post(
                f"/sessions/{sid}/resume_chat",
                json={"answer": answer if i % 3 else "no", "current_question_index": index},
                headers=h,
            )
            assert r.status_code == 200, r.text
    for token in movers[: MOVERS // 2]:  # these unenroll during the run
        assert (
            await api.client.post("/subjects/INF001/enroll", headers=bearer(token))
        ).status_code == 200

    def finish(i: int) -> Callable[[], Awaitable[Any]]:
        return lambda: api.client.post(
            f"/sessions/00000000-0000-4000-8000-{i:012d}/resume_chat",
            json={"answer": "8" if i % 2 else "nueve", "current_question_index": 3},
            headers=bearer(takers[i]),
        )

    def move(i: int) -> Callable[[], Awaitable[Any]]:
        verb = api.client.delete if i < MOVERS // 2 else api.client.post
        return lambda: verb("/subjects/INF001/enroll", headers=bearer(movers[i]))

    steps = [finish(i) for i in range(QUIZZES)] + [move(i) for i in range(MOVERS)]
    steps = [s for pair in zip(steps[:MOVERS], steps[QUIZZES:], strict=True) for s in pair] + (
        steps[MOVERS:QUIZZES]
    )
    responses = await together(mode, steps)
    assert all(r.status_code in (200, 204) for r in responses), [r.text for r in responses]
    scores = [
        r.json()["score"]["percentage"]
        for r in responses
        if r.status_code == 200 and "score" in r.json()
    ]
    assert len(scores) == QUIZZES

    async with api.gateway.db.transaction() as db:
        row = (
            await db.execute(
                select(
                    SUBJECT.c.enrolled_count,
                    SUBJECT.c.attempt_count,
                    SUBJECT.c.percentage_hundredths,
                ).where(SUBJECT.c.subject_id == "INF001")
            )
        ).one()
        assert tuple(row) == (
            QUIZZES + MOVERS - MOVERS // 2,
            QUIZZES,
            sum(round(p * 100) for p in scores),
        )
        assert await check.differences(db) == []
    r = await api.client.get("/professor/subjects/INF001/analytics", headers=bearer(admin))
    assert r.json()["total_students"] == QUIZZES + MOVERS - MOVERS // 2


DELETED = 12
SHARED = ("INF001", "INF002", "INF003", "INF004")


@pytest.mark.parametrize("mode", [MODE])
async def test_concurrent_user_deletions_sharing_subjects_all_succeed(api: Api, mode: str) -> None:
    """Each deletion subtracts its user's share from every subject the user touched: the
    subjects' rows are locked in one order, so deletions sharing subjects wait for each other
    instead of deadlocking (a deadlock would be a 500 for one of them)."""
    admin = await api.user("root_admin", Role.ADMIN)
    await api.user("prof_ana", Role.PROFESSOR)
    for code in SHARED:
        r = await api.client.post(
            "/subjects",
            json={"subject_id": code, "name": code, "professor_id": "prof_ana"},
            headers=bearer(admin),
        )
        assert r.status_code == 201
    keeper = await api.user("keeper", Role.STUDENT)
    students = [await api.user(f"leaver{i:02d}", Role.STUDENT) for i in range(DELETED)]
    for i, token in enumerate([keeper, *students]):
        # Each enrolls in the shared subjects in a different order and takes a quiz in each.
        for code in SHARED[i % 4 :] + SHARED[: i % 4]:
            r = await api.client.post(f"/subjects/{code}/enroll", headers=bearer(token))
            assert r.status_code == 200
            await add_attempt(api, "keeper" if i == 0 else f"leaver{i - 1:02d}", code, 5.0 * i)

    def delete(i: int) -> Callable[[], Awaitable[Any]]:
        return lambda: api.client.delete(f"/admin/users/leaver{i:02d}", headers=bearer(admin))

    # Alternate directions so that, unordered, two deletions would meet in opposite orders.
    order = [
        i
        for pair in zip(range(DELETED // 2), range(DELETED - 1, DELETED // 2 - 1, -1), strict=True)
        for i in pair
    ]
    responses = await together(mode, [delete(i) for i in order])
    assert [r.status_code for r in responses] == [204] * DELETED, [r.text for r in responses]
    async with api.gateway.db.transaction() as db:
        counts = dict(
            (await db.execute(select(SUBJECT.c.subject_id, SUBJECT.c.enrolled_count))).all()
        )
        assert counts == dict.fromkeys(SHARED, 1)
        assert await check.differences(db) == []
