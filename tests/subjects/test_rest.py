"""The REST face of subjects and enrollment, every documented status included."""

from __future__ import annotations

import base64
import json

from sqlalchemy import func, select

from gateway.sessions.models import ChatSession, Message, QuizAttempt
from gateway.subjects.models import Enrollment, Subject
from tests.conftest import Api, StatementCounter
from tests.subjects.world import add_attempt, add_session, bearer, make_world


async def test_list_subjects_with_counts_filters_and_pages(api: Api) -> None:
    w = await make_world(api)
    await api.client.post("/subjects/INF001/enroll", headers=bearer(w.maria))
    r = await api.client.get("/subjects", headers=bearer(w.gabriel))
    assert r.status_code == 200, r.text
    assert r.json() == [
        {
            "_id": "INF001",
            "name": "Algorithms",
            "description": "About Algorithms",
            "professor_id": "prof_ana",
            "student_count": 2,
        },
        {
            "_id": "INF002",
            "name": "Databases",
            "description": "About Databases",
            "professor_id": "prof_ana",
            "student_count": 0,
        },
        {
            "_id": "MAT002",
            "name": "Linear Algebra",
            "description": "About Linear Algebra",
            "professor_id": "prof_juan",
            "student_count": 0,
        },
    ]
    r = await api.client.get("/subjects?professor_id=prof_juan", headers=bearer(w.gabriel))
    assert [s["_id"] for s in r.json()] == ["MAT002"]
    r = await api.client.get("/subjects?page=2&limit=2", headers=bearer(w.gabriel))
    assert [s["_id"] for s in r.json()] == ["MAT002"]
    r = await api.client.get("/subjects?search=ALGEB", headers=bearer(w.gabriel))
    assert [s["_id"] for s in r.json()] == ["MAT002"]


async def test_list_subjects_errors(api: Api) -> None:
    w = await make_world(api)
    assert (await api.client.get("/subjects")).status_code == 401
    for query in ("limit=101", "limit=0", "page=0"):
        r = await api.client.get(f"/subjects?{query}", headers=bearer(w.gabriel))
        assert r.status_code == 422, query


async def test_create_subject(api: Api) -> None:
    w = await make_world(api)
    body = {"subject_id": "PHY-1_a", "name": "Physics", "professor_id": "PROF_JUAN"}
    r = await api.client.post("/subjects", json=body, headers=bearer(w.admin))
    assert r.status_code == 201, r.text
    created = r.json()
    assert created.pop("created_at")
    assert created == {
        "_id": "PHY-1_a",
        "name": "Physics",
        "description": "",
        "professor_id": "prof_juan",
    }
    r = await api.client.post("/subjects", json=body, headers=bearer(w.admin))
    assert r.status_code == 400 and r.json() == {"detail": "Subject already exists"}
    # No professor at all is allowed: an admin may assign one later.
    r = await api.client.post(
        "/subjects", json={"subject_id": "X1", "name": "Orphan"}, headers=bearer(w.admin)
    )
    assert r.status_code == 201 and r.json()["professor_id"] is None


async def test_create_subject_errors(api: Api) -> None:
    w = await make_world(api)
    body = {"subject_id": "NEW1", "name": "New", "professor_id": "prof_ana"}
    assert (await api.client.post("/subjects", json=body)).status_code == 401
    for token in (w.ana, w.gabriel):
        r = await api.client.post("/subjects", json=body, headers=bearer(token))
        assert r.status_code == 403, r.text
    r = await api.client.post(
        "/subjects", json={**body, "professor_id": "nobody"}, headers=bearer(w.admin)
    )
    assert r.status_code == 404 and r.json() == {"detail": "Professor not found"}
    r = await api.client.post(
        "/subjects", json={**body, "professor_id": "gabriel"}, headers=bearer(w.admin)
    )
    assert r.status_code == 400 and r.json() == {"detail": "User is not a professor"}
    for bad in (
        {**body, "subject_id": "has space"},
        {**body, "subject_id": "x" * 33},
        {**body, "subject_id": ""},
        {**body, "name": ""},
        {**body, "name": "n" * 201},
        {**body, "name": "nul\x00"},
        {"name": "no id"},
    ):
        r = await api.client.post("/subjects", json=bad, headers=bearer(w.admin))
        assert r.status_code == 422, bad
    async with api.gateway.db.read() as db:
        assert await db.scalar(select(func.count()).select_from(Subject)) == 3


async def test_read_subject(api: Api, sql_counter: StatementCounter) -> None:
    w = await make_world(api)
    sql_counter.reset()
    r = await api.client.get("/subjects/INF001", headers=bearer(w.maria))
    assert r.status_code == 200
    assert r.json()["student_count"] == 1 and r.json()["professor_id"] == "prof_ana"
    assert sql_counter.count == 2, sql_counter.statements  # the caller; the subject and count
    r = await api.client.get("/subjects/NOPE", headers=bearer(w.maria))
    assert r.status_code == 404 and r.json() == {"detail": "Subject not found"}
    assert (await api.client.get("/subjects/INF001")).status_code == 401


async def test_update_subject_by_its_professor(api: Api) -> None:
    w = await make_world(api)
    r = await api.client.put("/subjects/INF001", json={"guide": "# Guide\n"}, headers=bearer(w.ana))
    assert r.status_code == 200, r.text
    assert r.json() == {
        "_id": "INF001",
        "name": "Algorithms",
        "description": "About Algorithms",
        "professor_id": "prof_ana",
        "guide": "# Guide\n",
    }
    r = await api.client.put(
        "/subjects/INF001",
        json={"name": "Algorithms and Data Structures", "professor_id": "prof_ana"},
        headers=bearer(w.ana),
    )
    assert r.status_code == 200
    assert r.json()["name"] == "Algorithms and Data Structures"
    assert r.json()["guide"] == "# Guide\n"  # untouched by a partial update


async def test_update_subject_errors(api: Api) -> None:
    w = await make_world(api)
    assert (await api.client.put("/subjects/INF001", json={"name": "x"})).status_code == 401
    for token in (w.juan, w.gabriel):
        r = await api.client.put("/subjects/INF001", json={"name": "x"}, headers=bearer(token))
        assert r.status_code == 403, r.text
    r = await api.client.put(
        "/subjects/INF001", json={"professor_id": "prof_juan"}, headers=bearer(w.ana)
    )
    assert r.status_code == 403 and r.json() == {"detail": "Only an admin can reassign a subject"}
    r = await api.client.put("/subjects/NOPE", json={"name": "x"}, headers=bearer(w.ana))
    assert r.status_code == 404
    r = await api.client.put("/subjects/INF001", json={"name": ""}, headers=bearer(w.ana))
    assert r.status_code == 422
    r = await api.client.put(
        "/subjects/INF001", json={"professor_id": "maria"}, headers=bearer(w.admin)
    )
    assert r.status_code == 400
    r = await api.client.put(
        "/subjects/INF001", json={"professor_id": "ghost"}, headers=bearer(w.admin)
    )
    assert r.status_code == 404
    r = await api.client.get("/subjects/INF001", headers=bearer(w.ana))
    assert r.json()["name"] == "Algorithms" and r.json()["professor_id"] == "prof_ana"


async def test_admin_reassigns_subject(api: Api) -> None:
    w = await make_world(api)
    r = await api.client.put(
        "/subjects/INF001", json={"professor_id": "prof_juan"}, headers=bearer(w.admin)
    )
    assert r.status_code == 200 and r.json()["professor_id"] == "prof_juan"
    # The old professor lost the subject at once.
    r = await api.client.put("/subjects/INF001", json={"name": "x"}, headers=bearer(w.ana))
    assert r.status_code == 403


async def _count(api: Api, model: type, **where: object) -> int:
    async with api.gateway.db.read() as db:
        query = select(func.count()).select_from(model)
        for column, value in where.items():
            query = query.where(getattr(model, column) == value)
        return int(await db.scalar(query) or 0)


async def test_delete_subject_cascades(api: Api) -> None:
    w = await make_world(api)
    session = await add_session(api, "gabriel", "INF001", messages=3)
    await add_attempt(api, "gabriel", "INF001", 80.0, session_id=session)
    other = await add_session(api, "gabriel", "MAT002", messages=2)
    await add_attempt(api, "gabriel", "MAT002", 50.0, session_id=other)

    r = await api.client.delete("/subjects/INF001", headers=bearer(w.admin))
    assert r.status_code == 204 and r.content == b""
    assert await _count(api, Subject, id="INF001") == 0
    assert await _count(api, Enrollment, subject_id="INF001") == 0
    assert await _count(api, ChatSession, subject_id="INF001") == 0
    assert await _count(api, Message, session_id=session) == 0
    assert await _count(api, QuizAttempt, subject_id="INF001") == 0
    # Other subjects keep everything.
    assert await _count(api, ChatSession) == 1
    assert await _count(api, Message) == 2
    assert await _count(api, QuizAttempt) == 1
    r = await api.client.get("/subjects/enrolled", headers=bearer(w.gabriel))
    assert r.json() == []


async def test_delete_subject_errors(api: Api) -> None:
    w = await make_world(api)
    assert (await api.client.delete("/subjects/INF001")).status_code == 401
    for token in (w.ana, w.gabriel):
        assert (
            await api.client.delete("/subjects/INF001", headers=bearer(token))
        ).status_code == 403
    r = await api.client.delete("/subjects/NOPE", headers=bearer(w.admin))
    assert r.status_code == 404 and r.json() == {"detail": "Subject not found"}
    assert await _count(api, Subject) == 3


async def test_enrolled_subjects(api: Api) -> None:
    w = await make_world(api)
    r = await api.client.get("/subjects/enrolled", headers=bearer(w.gabriel))
    assert r.status_code == 200
    assert r.json() == [
        {
            "_id": "INF001",
            "name": "Algorithms",
            "description": "About Algorithms",
            "professor_id": "prof_ana",
            "guide": "",
        }
    ]
    r = await api.client.get("/subjects/enrolled", headers=bearer(w.maria))
    assert r.json() == []
    assert (await api.client.get("/subjects/enrolled")).status_code == 401


async def test_enroll_and_unenroll(api: Api) -> None:
    w = await make_world(api)
    r = await api.client.post("/subjects/MAT002/enroll", headers=bearer(w.maria))
    assert r.status_code == 200, r.text
    assert r.json() == {
        "message": "Successfully enrolled in MAT002",
        "subject": {"_id": "MAT002", "name": "Linear Algebra", "professor_id": "prof_juan"},
    }
    r = await api.client.post("/subjects/MAT002/enroll", headers=bearer(w.maria))
    assert r.status_code == 403 and r.json() == {"detail": "Student already enrolled"}
    r = await api.client.delete("/subjects/MAT002/enroll", headers=bearer(w.maria))
    assert r.status_code == 204
    r = await api.client.delete("/subjects/MAT002/enroll", headers=bearer(w.maria))
    assert r.status_code == 404 and r.json() == {"detail": "Not enrolled in subject"}
    assert await _count(api, Enrollment, subject_id="MAT002") == 0


async def test_enroll_errors(api: Api) -> None:
    w = await make_world(api)
    for method in ("POST", "DELETE"):
        r = await api.client.request(method, "/subjects/INF001/enroll")
        assert r.status_code == 401
        for token in (w.ana, w.admin):
            r = await api.client.request(method, "/subjects/INF001/enroll", headers=bearer(token))
            assert r.status_code == 400 and r.json() == {"detail": "Student role required"}
        r = await api.client.request(method, "/subjects/NOPE/enroll", headers=bearer(w.maria))
        assert r.status_code == 404 and r.json() == {"detail": "Subject not found"}


def _claims(token: str) -> dict[str, object]:
    payload = token.split(".")[1]
    decoded: dict[str, object] = json.loads(base64.urlsafe_b64decode(payload + "=" * 4))
    return decoded


async def test_token_subjects_claim_is_informational(api: Api) -> None:
    w = await make_world(api)
    assert _claims(w.maria)["subjects"] == []
    await api.client.post("/subjects/MAT002/enroll", headers=bearer(w.maria))
    fresh = await api.token("maria")
    assert _claims(fresh)["subjects"] == ["MAT002"]
    assert _claims(await api.token("prof_ana"))["subjects"] == ["INF001", "INF002"]
    # Unenrolled while still holding a token that names MAT002: the database decides.
    r = await api.client.delete("/subjects/MAT002/enroll", headers=bearer(fresh))
    assert r.status_code == 204
    r = await api.client.get("/subjects/enrolled", headers=bearer(fresh))
    assert r.json() == []
    body = await api.gql('{ subject(id: "MAT002") { enrolled } }', token=fresh)
    assert body["data"]["subject"]["enrolled"] is False
