"""The GraphQL face of subjects and enrollment."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.users.models import Role
from tests.conftest import Api, StatementCounter
from tests.subjects.world import bearer, make_world


def code(body: dict[str, Any]) -> str | None:
    errors = body.get("errors")
    return errors[0]["extensions"]["code"] if errors else None


SUBJECTS = """
query($first: Int!, $after: String, $professorId: ID, $search: String) {
  subjects(first: $first, after: $after, professorId: $professorId, search: $search) {
    nodes { code name professor { username } studentCount enrolled }
    pageInfo { hasNextPage endCursor }
  }
}"""


async def test_subjects_connection(api: Api) -> None:
    w = await make_world(api)
    body = await api.gql(SUBJECTS, {"first": 2}, token=w.gabriel)
    page = body["data"]["subjects"]
    assert page["nodes"] == [
        {
            "code": "INF001",
            "name": "Algorithms",
            "professor": {"username": "prof_ana"},
            "studentCount": 1,
            "enrolled": True,
        },
        {
            "code": "INF002",
            "name": "Databases",
            "professor": {"username": "prof_ana"},
            "studentCount": 0,
            "enrolled": False,
        },
    ]
    assert page["pageInfo"]["hasNextPage"] is True
    body = await api.gql(
        SUBJECTS, {"first": 2, "after": page["pageInfo"]["endCursor"]}, token=w.gabriel
    )
    assert [n["code"] for n in body["data"]["subjects"]["nodes"]] == ["MAT002"]
    assert body["data"]["subjects"]["pageInfo"]["hasNextPage"] is False
    body = await api.gql(SUBJECTS, {"first": 10, "professorId": "prof_juan"}, token=w.gabriel)
    assert [n["code"] for n in body["data"]["subjects"]["nodes"]] == ["MAT002"]


async def test_subjects_search_escapes_like_metacharacters(api: Api) -> None:
    w = await make_world(api)
    for sid, name in [("P1", "100% Pure"), ("P2", "1000 Pure"), ("U1", "a_b"), ("U2", "axb")]:
        r = await api.client.post(
            "/subjects", json={"subject_id": sid, "name": name}, headers=bearer(w.admin)
        )
        assert r.status_code == 201

    async def search(text: str) -> list[str]:
        body = await api.gql(SUBJECTS, {"first": 50, "search": text}, token=w.maria)
        return [n["code"] for n in body["data"]["subjects"]["nodes"]]

    assert await search("0%") == ["P1"]
    assert await search("a_b") == ["U1"]
    assert await search("%") == ["P1"]
    assert await search("ALGO") == ["INF001"]
    assert await search("%' OR 1=1 --") == []
    body = await api.gql(SUBJECTS, {"first": 5, "search": "x" * 201}, token=w.maria)
    assert code(body) == "BAD_USER_INPUT"


@pytest.mark.parametrize("first", [0, -1, 101, 100_000])
async def test_subjects_page_size_is_capped(api: Api, first: int) -> None:
    w = await make_world(api)
    body = await api.gql(SUBJECTS, {"first": first}, token=w.gabriel)
    assert code(body) == "BAD_USER_INPUT"
    assert body["errors"][0]["message"] == "first must be 1..100"


async def test_subjects_need_authentication(api: Api) -> None:
    await make_world(api)
    assert code(await api.gql(SUBJECTS, {"first": 5})) == "UNAUTHENTICATED"
    assert code(await api.gql('{ subject(id: "INF001") { code } }')) == "UNAUTHENTICATED"


async def test_subject_by_id(api: Api) -> None:
    w = await make_world(api)
    body = await api.gql(
        '{ subject(id: "INF001") { code name description guide createdAt studentCount enrolled '
        "professor { username role subjects { code } } } }",
        token=w.maria,
    )
    subject = body["data"]["subject"]
    assert subject["professor"] == {
        "username": "prof_ana",
        "role": "PROFESSOR",
        "subjects": [{"code": "INF001"}, {"code": "INF002"}],
    }
    assert subject["studentCount"] == 1 and subject["enrolled"] is False
    assert subject["createdAt"]
    body = await api.gql('{ subject(id: "NOPE") { code } }', token=w.maria)
    assert code(body) == "NOT_FOUND" and body["errors"][0]["message"] == "Subject not found"


async def test_user_subjects(api: Api) -> None:
    w = await make_world(api)
    body = await api.gql("{ me { subjects { code professor { username } } } }", token=w.gabriel)
    assert body["data"]["me"]["subjects"] == [
        {"code": "INF001", "professor": {"username": "prof_ana"}}
    ]
    body = await api.gql('{ user(id: "prof_ana") { subjects { code } } }', token=w.juan)
    assert body["data"]["user"]["subjects"] == [{"code": "INF001"}, {"code": "INF002"}]
    body = await api.gql("{ me { subjects { code } } }", token=w.maria)
    assert body["data"]["me"]["subjects"] == []


CREATE = """mutation($input: CreateSubjectInput!) {
  createSubject(input: $input) { subject { code name description guide professor { username } } }
}"""


async def test_create_subject(api: Api) -> None:
    w = await make_world(api)
    body = await api.gql(
        CREATE,
        {"input": {"code": "CHE1", "name": "Chemistry", "guide": "g", "professorId": "prof_juan"}},
        token=w.admin,
    )
    assert body["data"]["createSubject"]["subject"] == {
        "code": "CHE1",
        "name": "Chemistry",
        "description": "",
        "guide": "g",
        "professor": {"username": "prof_juan"},
    }
    cases: list[tuple[dict[str, Any], str | None, str]] = [
        ({"code": "CHE1", "name": "Again"}, w.admin, "CONFLICT"),
        ({"code": "C2", "name": "x", "professorId": "ghost"}, w.admin, "NOT_FOUND"),
        ({"code": "C2", "name": "x", "professorId": "maria"}, w.admin, "BAD_USER_INPUT"),
        ({"code": "bad id", "name": "x"}, w.admin, "BAD_USER_INPUT"),
        ({"code": "C2", "name": ""}, w.admin, "BAD_USER_INPUT"),
        ({"code": "C2", "name": "x"}, w.ana, "FORBIDDEN"),
        ({"code": "C2", "name": "x"}, w.gabriel, "FORBIDDEN"),
        ({"code": "C2", "name": "x"}, None, "UNAUTHENTICATED"),
    ]
    for data, token, expected in cases:
        assert code(await api.gql(CREATE, {"input": data}, token=token)) == expected, data


UPDATE = """mutation($input: UpdateSubjectInput!) {
  updateSubject(input: $input) { subject { code name guide professor { username } } }
}"""


async def test_update_subject(api: Api) -> None:
    w = await make_world(api)
    body = await api.gql(UPDATE, {"input": {"subjectId": "INF001", "guide": "new"}}, token=w.ana)
    assert body["data"]["updateSubject"]["subject"] == {
        "code": "INF001",
        "name": "Algorithms",
        "guide": "new",
        "professor": {"username": "prof_ana"},
    }
    body = await api.gql(
        UPDATE, {"input": {"subjectId": "INF001", "professorId": "prof_juan"}}, token=w.admin
    )
    assert body["data"]["updateSubject"]["subject"]["professor"] == {"username": "prof_juan"}
    cases: list[tuple[dict[str, Any], str | None, str]] = [
        ({"subjectId": "MAT002", "professorId": "prof_ana"}, w.juan, "FORBIDDEN"),
        ({"subjectId": "MAT002", "name": "x"}, w.ana, "FORBIDDEN"),
        ({"subjectId": "MAT002", "name": "x"}, w.gabriel, "FORBIDDEN"),
        ({"subjectId": "NOPE", "name": "x"}, w.admin, "NOT_FOUND"),
        ({"subjectId": "MAT002", "name": ""}, w.admin, "BAD_USER_INPUT"),
        ({"subjectId": "MAT002", "professorId": "maria"}, w.admin, "BAD_USER_INPUT"),
        ({"subjectId": "MAT002", "name": "x"}, None, "UNAUTHENTICATED"),
    ]
    for data, token, expected in cases:
        assert code(await api.gql(UPDATE, {"input": data}, token=token)) == expected, data


DELETE = "mutation($id: ID!) { deleteSubject(input: {subjectId: $id}) { code deleted } }"


async def test_delete_subject(api: Api) -> None:
    w = await make_world(api)
    for token, expected in [
        (None, "UNAUTHENTICATED"),
        (w.ana, "FORBIDDEN"),
        (w.gabriel, "FORBIDDEN"),
    ]:
        assert code(await api.gql(DELETE, {"id": "INF001"}, token=token)) == expected
    body = await api.gql(DELETE, {"id": "INF001"}, token=w.admin)
    assert body["data"]["deleteSubject"] == {"code": "INF001", "deleted": True}
    assert code(await api.gql(DELETE, {"id": "INF001"}, token=w.admin)) == "NOT_FOUND"
    body = await api.gql("{ me { subjects { code } } }", token=w.gabriel)
    assert body["data"]["me"]["subjects"] == []


ENROLL = """mutation($id: ID!) {
  enroll(input: {subjectId: $id}) { message subject { code enrolled studentCount } }
}"""
UNENROLL = """mutation($id: ID!) {
  unenroll(input: {subjectId: $id}) { message subject { code enrolled } }
}"""


async def test_enroll_and_unenroll(api: Api) -> None:
    w = await make_world(api)
    body = await api.gql(ENROLL, {"id": "MAT002"}, token=w.maria)
    assert body["data"]["enroll"] == {
        "message": "Successfully enrolled in MAT002",
        "subject": {"code": "MAT002", "enrolled": True, "studentCount": 1},
    }
    body = await api.gql(ENROLL, {"id": "MAT002"}, token=w.maria)
    assert code(body) == "ALREADY_ENROLLED"
    assert body["errors"][0]["message"] == "Student already enrolled"
    body = await api.gql("{ enrolledSubjects { code } }", token=w.maria)
    assert body["data"]["enrolledSubjects"] == [{"code": "MAT002"}]
    body = await api.gql(UNENROLL, {"id": "MAT002"}, token=w.maria)
    assert body["data"]["unenroll"] == {
        "message": "Successfully unenrolled from MAT002",
        "subject": {"code": "MAT002", "enrolled": False},
    }
    assert code(await api.gql(UNENROLL, {"id": "MAT002"}, token=w.maria)) == "NOT_FOUND"


async def test_enroll_errors(api: Api) -> None:
    w = await make_world(api)
    for mutation in (ENROLL, UNENROLL):
        assert code(await api.gql(mutation, {"id": "INF001"})) == "UNAUTHENTICATED"
        for token in (w.ana, w.admin):
            body = await api.gql(mutation, {"id": "INF001"}, token=token)
            assert code(body) == "BAD_USER_INPUT"
            assert body["errors"][0]["message"] == "Student role required"
        body = await api.gql(mutation, {"id": "NOPE"}, token=w.maria)
        assert code(body) == "NOT_FOUND"


STUDENTS = """query($id: ID!, $first: Int!, $after: String) {
  subject(id: $id) { students(first: $first, after: $after) {
    nodes { username email subjects { code } } pageInfo { hasNextPage endCursor } } }
}"""


async def test_subject_students(api: Api) -> None:
    w = await make_world(api)
    for name in ("zoe", "alba"):
        token = await api.user(name, Role.STUDENT)
        assert (
            await api.client.post("/subjects/INF001/enroll", headers=bearer(token))
        ).status_code == 200
    for token in (w.ana, w.admin):
        body = await api.gql(STUDENTS, {"id": "INF001", "first": 2}, token=token)
        page = body["data"]["subject"]["students"]
        assert [n["username"] for n in page["nodes"]] == ["alba", "gabriel"]
        assert page["nodes"][0] == {
            "username": "alba",
            "email": "alba@example.com",
            "subjects": [{"code": "INF001"}],
        }
        assert page["pageInfo"]["hasNextPage"] is True
        body = await api.gql(
            STUDENTS,
            {"id": "INF001", "first": 2, "after": page["pageInfo"]["endCursor"]},
            token=token,
        )
        assert [n["username"] for n in body["data"]["subject"]["students"]["nodes"]] == ["zoe"]
    for token in (w.juan, w.gabriel):
        body = await api.gql(STUDENTS, {"id": "INF001", "first": 5}, token=token)
        assert code(body) == "FORBIDDEN"
        assert body["data"] == {"subject": {"students": None}}
    # 101 students, each with their subjects: over the cost budget before anything runs.
    body = await api.gql(STUDENTS, {"id": "INF001", "first": 101}, token=w.ana)
    assert code(body) == "QUERY_TOO_COMPLEX"
    flat = 'query($n: Int!) { subject(id: "INF001") { students(first: $n) { nodes { id } } } }'
    body = await api.gql(flat, {"n": 101}, token=w.ana)
    assert code(body) == "BAD_USER_INPUT"


async def test_students_across_subjects_in_one_query(
    api: Api, sql_counter: StatementCounter
) -> None:
    w = await make_world(api)
    await api.client.post("/subjects/INF002/enroll", headers=bearer(w.maria))
    query = (
        '{ subjects(first: 10, professorId: "prof_ana") '
        "{ nodes { code students(first: 5) { nodes { username } } } } }"
    )
    sql_counter.reset()
    body = await api.gql(query, token=w.ana)
    assert [
        (n["code"], [s["username"] for s in n["students"]["nodes"]])
        for n in body["data"]["subjects"]["nodes"]
    ] == [("INF001", ["gabriel"]), ("INF002", ["maria"])]
    # actor, subjects page, one window-function page of students with their subject codes
    assert sql_counter.count == 3, sql_counter.statements


SUBJECT_PAGE = """query($first: Int!) {
  subjects(first: $first) { nodes { code professor { username } studentCount enrolled } }
}"""


async def test_subject_page_runs_constant_statements(
    api: Api, sql_counter: StatementCounter
) -> None:
    admin = await api.user("root_admin", Role.ADMIN)
    student = await api.user("gabriel", Role.STUDENT)
    for p in range(5):
        await api.user(f"prof_{p}", Role.PROFESSOR)
    for i in range(50):
        r = await api.client.post(
            "/subjects",
            json={
                "subject_id": f"S{i:03}",
                "name": f"Subject {i}",
                "professor_id": f"prof_{i % 5}",
            },
            headers=bearer(admin),
        )
        assert r.status_code == 201
        if i % 3 == 0:
            await api.client.post(f"/subjects/S{i:03}/enroll", headers=bearer(student))

    counts = {}
    for first in (1, 10, 50):
        sql_counter.reset()
        body = await api.gql(SUBJECT_PAGE, {"first": first}, token=student)
        nodes = body["data"]["subjects"]["nodes"]
        assert len(nodes) == first
        assert nodes[0] == {
            "code": "S000",
            "professor": {"username": "prof_0"},
            "studentCount": 1,
            "enrolled": True,
        }
        assert sum(n["enrolled"] for n in nodes) == len(range(0, first, 3))
        counts[first] = sql_counter.count
    # actor + subjects page (professors and counts in the page's statement: look-ahead)
    # + enrolled
    assert counts == {1: 3, 10: 3, 50: 3}, counts
