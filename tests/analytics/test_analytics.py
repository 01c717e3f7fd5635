"""Subject analytics and the professor's students, on REST and GraphQL with the same figures."""

from __future__ import annotations

import datetime as dt
from typing import Any

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


async def test_rest_analytics(api: Api) -> None:
    w, times = await analytics_world(api)
    for token in (w.ana, w.admin):
        r = await api.client.get("/professor/subjects/INF001/analytics", headers=bearer(token))
        assert r.status_code == 200, r.text
        body = r.json()
        progress = body.pop("student_progress")
        assert body == {
            "subject_id": "INF001",
            "name": "Algorithms",
            "total_students": 4,
            "active_students": 2,
            "average_test_score": 68.5,  # (80 + 90 + 70 + 34) / 4: every attempt in the subject
        }
        assert [(p["username"], p["test_count"], p["average_score"]) for p in progress] == [
            ("alba", 0, None),
            ("carlos", 1, 70.0),
            ("diana", 0, None),
            ("gabriel", 2, 85.0),
        ]
        last = {p["username"]: when(p["last_activity"]) for p in progress}
        assert close(last["alba"], times["alba"])
        assert close(last["carlos"], times["carlos"])  # the session, later than the attempt
        assert close(last["gabriel"], times["gabriel"])  # the attempt, later than the session
        assert last["diana"] is None


async def test_rest_analytics_pages_and_empty_subject(api: Api) -> None:
    w, _ = await analytics_world(api)
    r = await api.client.get(
        "/professor/subjects/INF001/analytics?limit=2&skip=1", headers=bearer(w.ana)
    )
    assert [p["username"] for p in r.json()["student_progress"]] == ["carlos", "diana"]
    assert r.json()["total_students"] == 4
    r = await api.client.get("/professor/subjects/INF002/analytics", headers=bearer(w.ana))
    assert r.json() == {
        "subject_id": "INF002",
        "name": "Databases",
        "total_students": 1,
        "active_students": 0,
        "average_test_score": None,
        "student_progress": [
            {"username": "alba", "test_count": 0, "average_score": None, "last_activity": None}
        ],
    }
    for query in ("limit=0", "limit=1001", "skip=-1"):
        r = await api.client.get(
            f"/professor/subjects/INF001/analytics?{query}", headers=bearer(w.ana)
        )
        assert r.status_code == 422, query


async def test_active_window_is_configurable(api: Api) -> None:
    w, _ = await analytics_world(api)
    settings = api.gateway.settings
    original = settings.active_days
    try:
        settings.active_days = 16  # carlos's chat 15 days ago now counts
        r = await api.client.get("/professor/subjects/INF001/analytics", headers=bearer(w.ana))
        assert r.json()["active_students"] == 3
        settings.active_days = 1
        r = await api.client.get("/professor/subjects/INF001/analytics", headers=bearer(w.ana))
        assert r.json()["active_students"] == 0
    finally:
        settings.active_days = original


async def test_rest_analytics_errors(api: Api) -> None:
    w, _ = await analytics_world(api)
    path = "/professor/subjects/INF001/analytics"
    assert (await api.client.get(path)).status_code == 401
    for token in (w.juan, w.gabriel):
        r = await api.client.get(path, headers=bearer(token))
        assert r.status_code == 403 and r.json() == {"detail": "Not this subject's professor"}
    r = await api.client.get("/professor/subjects/NOPE/analytics", headers=bearer(w.ana))
    assert r.status_code == 404 and r.json() == {"detail": "Subject not found"}


ANALYTICS = """query($id: ID!, $first: Int!, $after: String) {
  subject(id: $id) { analytics {
    subjectCode name totalStudents activeStudents averageTestScore
    studentProgress(first: $first, after: $after) {
      nodes { username testCount averageScore lastActivity }
      pageInfo { hasNextPage endCursor }
    }
  } }
}"""


async def test_graphql_analytics_matches_rest(api: Api) -> None:
    w, _ = await analytics_world(api)
    rest = (
        await api.client.get("/professor/subjects/INF001/analytics", headers=bearer(w.ana))
    ).json()
    body = await api.gql(ANALYTICS, {"id": "INF001", "first": 3}, token=w.ana)
    analytics = body["data"]["subject"]["analytics"]
    assert (
        analytics["subjectCode"],
        analytics["name"],
        analytics["totalStudents"],
        analytics["activeStudents"],
        analytics["averageTestScore"],
    ) == (
        rest["subject_id"],
        rest["name"],
        rest["total_students"],
        rest["active_students"],
        rest["average_test_score"],
    )
    page = analytics["studentProgress"]
    assert page["pageInfo"]["hasNextPage"] is True
    body = await api.gql(
        ANALYTICS, {"id": "INF001", "first": 3, "after": page["pageInfo"]["endCursor"]}, token=w.ana
    )
    rest_tail = body["data"]["subject"]["analytics"]["studentProgress"]
    assert rest_tail["pageInfo"]["hasNextPage"] is False
    nodes = page["nodes"] + rest_tail["nodes"]
    assert [
        (n["username"], n["testCount"], n["averageScore"], when(n["lastActivity"])) for n in nodes
    ] == [
        (p["username"], p["test_count"], p["average_score"], when(p["last_activity"]))
        for p in rest["student_progress"]
    ]


async def test_graphql_analytics_errors(api: Api) -> None:
    w, _ = await analytics_world(api)

    def code(body: dict[str, Any]) -> str:
        return str(body["errors"][0]["extensions"]["code"])

    for token in (w.juan, w.gabriel):
        body = await api.gql(ANALYTICS, {"id": "INF001", "first": 5}, token=token)
        assert code(body) == "FORBIDDEN"
        assert body["data"] == {"subject": {"analytics": None}}
    body = await api.gql(ANALYTICS, {"id": "INF001", "first": 1001}, token=w.ana)
    assert code(body) == "BAD_USER_INPUT"
    body = await api.gql(ANALYTICS, {"id": "NOPE", "first": 5}, token=w.ana)
    assert code(body) == "NOT_FOUND"


async def test_professor_students(api: Api) -> None:
    w, _ = await analytics_world(api)

    async def students(token: str, query: str = "") -> list[tuple[str, list[str]]]:
        r = await api.client.get(f"/professor/students{query}", headers=bearer(token))
        assert r.status_code == 200, r.text
        return [(s["username"], s["enrolled_subjects"]) for s in r.json()]

    assert await students(w.ana) == [
        ("alba", ["INF001", "INF002"]),  # MAT002 is not prof_ana's: not shown to her
        ("carlos", ["INF001"]),
        ("diana", ["INF001"]),
        ("gabriel", ["INF001"]),
    ]
    assert await students(w.ana, "?subject_id=INF002") == [("alba", ["INF001", "INF002"])]
    assert await students(w.ana, "?limit=2&skip=1") == [
        ("carlos", ["INF001"]),
        ("diana", ["INF001"]),
    ]
    assert await students(w.juan) == [("alba", ["MAT002"])]
    assert (await students(w.admin))[0] == ("alba", ["INF001", "INF002", "MAT002"])
    r = await api.client.get("/professor/students", headers=bearer(w.ana))
    assert r.json()[0] == {
        "username": "alba",
        "full_name": "Alba",
        "email": "alba@example.com",
        "enrolled_subjects": ["INF001", "INF002"],
    }


async def test_professor_students_errors(api: Api) -> None:
    w, _ = await analytics_world(api)
    assert (await api.client.get("/professor/students")).status_code == 401
    r = await api.client.get("/professor/students", headers=bearer(w.gabriel))
    assert r.status_code == 403 and r.json() == {
        "detail": "Insufficient permissions (not professor)"
    }
    r = await api.client.get("/professor/students?subject_id=MAT002", headers=bearer(w.ana))
    assert r.status_code == 403
    r = await api.client.get("/professor/students?subject_id=NOPE", headers=bearer(w.ana))
    assert r.status_code == 404
    r = await api.client.get("/professor/students?limit=101", headers=bearer(w.ana))
    assert r.status_code == 422


MY_STUDENTS = """query($subjectId: ID, $first: Int!, $after: String) {
  myStudents(subjectId: $subjectId, first: $first, after: $after) {
    edges { subjectCodes node { username fullName email } } pageInfo { hasNextPage endCursor }
  }
}"""


async def test_graphql_my_students(api: Api) -> None:
    w, _ = await analytics_world(api)
    body = await api.gql(MY_STUDENTS, {"first": 3}, token=w.ana)
    page = body["data"]["myStudents"]
    assert [(e["node"]["username"], e["subjectCodes"]) for e in page["edges"]] == [
        ("alba", ["INF001", "INF002"]),
        ("carlos", ["INF001"]),
        ("diana", ["INF001"]),
    ]
    assert page["pageInfo"]["hasNextPage"] is True
    body = await api.gql(
        MY_STUDENTS, {"first": 3, "after": page["pageInfo"]["endCursor"]}, token=w.ana
    )
    assert [e["node"]["username"] for e in body["data"]["myStudents"]["edges"]] == ["gabriel"]
    cases: list[tuple[dict[str, Any], str | None, str]] = [
        ({"first": 5}, None, "UNAUTHENTICATED"),
        ({"first": 5}, w.gabriel, "FORBIDDEN"),
        ({"first": 5, "subjectId": "MAT002"}, w.ana, "FORBIDDEN"),
        ({"first": 5, "subjectId": "NOPE"}, w.ana, "NOT_FOUND"),
        ({"first": 101}, w.ana, "BAD_USER_INPUT"),
    ]
    for variables, token, expected in cases:
        body = await api.gql(MY_STUDENTS, variables, token=token)
        assert body["errors"][0]["extensions"]["code"] == expected, variables
