"""The REST face of subject analytics and the professor's students (and GraphQL's analytics
figures checked against REST's)."""

from __future__ import annotations

from tests.analytics.world import ANALYTICS, analytics_world, close, when
from tests.conftest import Api
from tests.subjects.world import bearer


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
