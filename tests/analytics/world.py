"""The analytics scene shared by the REST and GraphQL tests: one subject with students active
by a quiz, by a chat, long ago and never, and the analytics query."""

from __future__ import annotations

import datetime as dt

from gateway.db import utcnow
from gateway.users.models import Role
from tests.conftest import Api
from tests.subjects.world import World, add_attempt, add_session, bearer, make_world


def ago(days: float) -> dt.datetime:
    return utcnow() - dt.timedelta(days=days)


async def analytics_world(api: Api) -> tuple[World, dict[str, dt.datetime]]:
    """INF001 (prof_ana): gabriel active by a quiz, alba active by a chat, carlos inactive
    (activity 15-20 days ago), diana never active; maria is not enrolled but took a quiz."""
    w = await make_world(api)
    for name in ("alba", "carlos", "diana"):
        token = await api.user(name, Role.STUDENT)
        r = await api.client.post("/subjects/INF001/enroll", headers=bearer(token))
        assert r.status_code == 200
        if name == "alba":
            for code in ("INF002", "MAT002"):
                await api.client.post(f"/subjects/{code}/enroll", headers=bearer(token))
    times = {
        "gabriel": ago(1),
        "alba": ago(2),
        "carlos": ago(15),
    }
    await add_session(api, "gabriel", "INF001", last_active=ago(30))
    await add_attempt(api, "gabriel", "INF001", 80.0, created_at=ago(3))
    await add_attempt(api, "gabriel", "INF001", 90.0, created_at=times["gabriel"])
    await add_attempt(api, "gabriel", "MAT002", 10.0, created_at=ago(1))  # another subject
    await add_session(api, "alba", "INF001", last_active=times["alba"])
    await add_session(api, "alba", "INF001", last_active=ago(9))
    await add_session(api, "carlos", "INF001", last_active=times["carlos"])
    await add_attempt(api, "carlos", "INF001", 70.0, created_at=ago(20))
    await add_attempt(api, "maria", "INF001", 34.0, created_at=ago(1))
    return w, times


def when(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def close(a: dt.datetime | None, b: dt.datetime | None) -> bool:
    return a == b or (a is not None and b is not None and abs((a - b).total_seconds()) < 0.001)


ANALYTICS = """query($id: ID!, $first: Int!, $after: String) {
  subject(id: $id) { analytics {
    subjectCode name totalStudents activeStudents averageTestScore
    studentProgress(first: $first, after: $after) {
      nodes { username testCount averageScore lastActivity }
      pageInfo { hasNextPage endCursor }
    }
  } }
}"""
