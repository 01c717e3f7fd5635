"""Regression guards for the hot read paths: statements per operation (a DataLoader or an
extra authorization read that sneaks back in fails here), the read-only session's refusal to
write, and the caller's profile being read fresh on every request."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from gateway.db import ReadOnlyWrite
from gateway.users.models import Role, User
from tests.conftest import Api, StatementCounter

PROFILE = "{ me { username email fullName role subjectCodes preferences { theme notifications } } }"
SUBJECTS = "{ subjects(first: 20) { nodes { id name professor { fullName } studentCount } } }"
ANALYTICS = """query ($id: ID!) { subject(id: $id) { analytics {
  totalStudents activeStudents averageTestScore
  studentProgress(first: 100) { nodes { username testCount averageScore lastActivity } } } } }"""


def _queries(counter: StatementCounter) -> list[str]:
    # SQLite's connect-time PRAGMAs are not part of an operation.
    return [s for s in counter.statements if not s.startswith("PRAGMA")]


@pytest.fixture
async def world(api: Api) -> dict[str, str]:
    admin = await api.user("root", Role.ADMIN)
    prof = await api.user("prof", Role.PROFESSOR)
    student = await api.user("stud")
    for code in ("HOT01", "HOT02"):
        body = {"subject_id": code, "name": code, "professor_id": "prof"}
        headers = {"Authorization": f"Bearer {admin}"}
        assert (await api.client.post("/subjects", json=body, headers=headers)).status_code < 300
    headers = {"Authorization": f"Bearer {student}"}
    assert (await api.client.post("/subjects/HOT01/enroll", headers=headers)).status_code < 300
    return {"admin": admin, "prof": prof, "student": student}


@pytest.mark.parametrize(
    ("face", "limit"),
    [("rest", 1), ("graphql", 1)],
)
async def test_profile_is_one_statement(
    api: Api, world: dict[str, str], sql_counter: StatementCounter, face: str, limit: int
) -> None:
    headers = {"Authorization": f"Bearer {world['student']}"}
    sql_counter.reset()
    if face == "rest":
        response = await api.client.get("/users/me", headers=headers)
        assert response.json()["subjects"] == ["HOT01"]
    else:
        body = await api.gql(PROFILE, token=world["student"])
        assert body["data"]["me"]["subjectCodes"] == ["HOT01"]
    assert len(_queries(sql_counter)) <= limit, sql_counter.statements


async def test_subjects_page_statements(
    api: Api, world: dict[str, str], sql_counter: StatementCounter
) -> None:
    headers = {"Authorization": f"Bearer {world['student']}"}
    sql_counter.reset()
    rest = await api.client.get("/subjects?page=1&limit=20", headers=headers)
    assert rest.status_code == 200
    assert [(s["_id"], s["student_count"]) for s in rest.json()] == [
        ("HOT01", 1),
        ("HOT02", 0),
    ]
    # caller, page with its counts
    assert len(_queries(sql_counter)) <= 2, sql_counter.statements
    sql_counter.reset()
    body = await api.gql(SUBJECTS, token=world["student"])
    nodes = body["data"]["subjects"]["nodes"]
    assert [(n["professor"]["fullName"], n["studentCount"]) for n in nodes] == [
        ("Prof", 1),
        ("Prof", 0),
    ]
    # caller, page with professors and counts (look-ahead on the selection)
    assert len(_queries(sql_counter)) <= 2, sql_counter.statements


LOOKAHEAD_SHAPES = [
    # (query, expected nodes, statements): professor/studentCount asked or not, directly or
    # through fragments; the page statement carries them, so the count never grows.
    ("{ subjects { nodes { code } } }", [{"code": "HOT01"}, {"code": "HOT02"}], 2),
    (
        "{ subjects { nodes { code studentCount } } }",
        [{"code": "HOT01", "studentCount": 1}, {"code": "HOT02", "studentCount": 0}],
        2,
    ),
    (
        "{ subjects { nodes { ...S } } } fragment S on Subject { professor { username } }",
        [{"professor": {"username": "prof"}}, {"professor": {"username": "prof"}}],
        2,
    ),
    (
        "{ subjects { nodes { ... on Subject { studentCount professor { fullName } } } } }",
        [
            {"studentCount": 1, "professor": {"fullName": "Prof"}},
            {"studentCount": 0, "professor": {"fullName": "Prof"}},
        ],
        2,
    ),
    # Not a page: the DataLoaders still batch (caller, subjects, professors, counts).
    (
        "{ enrolledSubjects { code studentCount professor { username } } }",
        [{"code": "HOT01", "studentCount": 1, "professor": {"username": "prof"}}],
        4,
    ),
]


@pytest.mark.parametrize(("query", "nodes", "statements"), LOOKAHEAD_SHAPES)
async def test_subjects_page_lookahead(
    api: Api,
    world: dict[str, str],
    sql_counter: StatementCounter,
    query: str,
    nodes: list[dict[str, object]],
    statements: int,
) -> None:
    sql_counter.reset()
    body = await api.gql(query, token=world["student"])
    assert "errors" not in body, body
    data = body["data"]
    assert (data["subjects"]["nodes"] if "subjects" in data else data["enrolledSubjects"]) == nodes
    assert len(_queries(sql_counter)) == statements, sql_counter.statements


async def test_professor_subject_ids_load_on_demand(api: Api, world: dict[str, str]) -> None:
    query = "{ subjects(first: 5) { nodes { professor { username subjectCodes } } } }"
    body = await api.gql(query, token=world["student"])
    assert [n["professor"]["subjectCodes"] for n in body["data"]["subjects"]["nodes"]] == [
        ["HOT01", "HOT02"],
        ["HOT01", "HOT02"],
    ]


async def test_graphql_analytics_reads_the_subject_once(
    api: Api, world: dict[str, str], sql_counter: StatementCounter
) -> None:
    sql_counter.reset()
    body = await api.gql(ANALYTICS, {"id": "HOT01"}, token=world["prof"])
    assert body["data"]["subject"]["analytics"]["totalStudents"] == 1
    subject_reads = [s for s in _queries(sql_counter) if s.lstrip().startswith("SELECT subjects")]
    assert len(subject_reads) == 1, sql_counter.statements
    assert len(_queries(sql_counter)) <= 4, sql_counter.statements  # caller, subject, 2 figures


async def test_graphql_analytics_still_refuses_another_professor(
    api: Api, world: dict[str, str]
) -> None:
    other = await api.user("other", Role.PROFESSOR)
    body = await api.gql(ANALYTICS, {"id": "HOT01"}, token=other)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    query = '{ subject(id: "HOT01") { analytics { studentProgress { nodes { username } } } } }'
    body = await api.gql(query, token=other)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]


async def test_role_and_profile_are_read_on_every_request(api: Api, world: dict[str, str]) -> None:
    headers = {"Authorization": f"Bearer {world['student']}"}
    async with api.gateway.db.transaction() as db:
        await db.execute(
            update(User)
            .where(User.username == "stud")
            .values(full_name="Renamed", role=Role.PROFESSOR.value)
        )
    me = (await api.client.get("/users/me", headers=headers)).json()
    assert (me["full_name"], me["role"]) == ("Renamed", "PROFESSOR")
    body = await api.gql("{ me { fullName role } }", token=world["student"])
    assert body["data"]["me"] == {"fullName": "Renamed", "role": "PROFESSOR"}


async def test_read_sessions_refuse_writes(api: Api, world: dict[str, str]) -> None:
    async with api.gateway.db.read() as db:
        with pytest.raises(ReadOnlyWrite):
            await db.execute(update(User).values(full_name="x"))
    async with api.gateway.db.read() as db:
        user = await db.scalar(User.__table__.select().where(User.username == "stud"))
        assert user is not None
        row = await db.get(User, user)
        assert row is not None
        row.full_name = "changed"
        with pytest.raises(ReadOnlyWrite):
            await db.flush()
    me = await api.client.get("/users/me", headers={"Authorization": f"Bearer {world['student']}"})
    assert me.json()["full_name"] == "Stud"


async def test_validation_runs_once_per_document(
    api: Api, world: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The parse and validation caches hit across requests (their keys are stable)."""
    import strawberry.schema.schema as strawberry_schema

    calls: list[object] = []
    original = strawberry_schema.validate_document

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(args[1])
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(strawberry_schema, "validate_document", counting)
    query = "# validation-cache probe\n{ me { username } }"
    for _ in range(3):
        body = await api.gql(query, token=world["student"])
        assert body["data"]["me"]["username"] == "stud"
    assert len(calls) == 1
