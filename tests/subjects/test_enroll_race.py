"""Concurrent enrollments of one student in one subject: one row, one success, no 500.

On PostgreSQL the requests really overlap (separate connections, INSERT ... ON CONFLICT DO
NOTHING waits on the first inserter's row lock); on SQLite the writers serialize on the file
lock. The same assertions hold on both."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from sqlalchemy import func, select

from gateway.subjects.models import Enrollment
from tests.conftest import Api
from tests.subjects.world import bearer, make_world

N = 12


@pytest.mark.parametrize("face", ["rest", "graphql"])
async def test_concurrent_enrollments_make_one_row(api: Api, face: str) -> None:
    w = await make_world(api)

    async def rest() -> str:
        r = await api.client.post("/subjects/MAT002/enroll", headers=bearer(w.maria))
        return str(r.status_code)

    async def graphql() -> str:
        body = await api.gql(
            'mutation { enroll(input: {subjectId: "MAT002"}) { subject { id } } }', token=w.maria
        )
        return body["errors"][0]["extensions"]["code"] if body.get("errors") else "ok"

    call = rest if face == "rest" else graphql
    outcomes = Counter(await asyncio.gather(*(call() for _ in range(N))))
    success, duplicate = ("200", "403") if face == "rest" else ("ok", "ALREADY_ENROLLED")
    assert outcomes == {success: 1, duplicate: N - 1}, outcomes
    async with api.gateway.db.read() as db:
        rows = await db.scalar(
            select(func.count()).select_from(Enrollment).where(Enrollment.subject_id == "MAT002")
        )
    assert rows == 1
