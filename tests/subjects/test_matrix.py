"""Authorization matrix: every subject/enrollment/professor operation x every kind of caller,
on REST and on GraphQL, with the same outcome (status <-> extensions.code, same message).
"demoted_professor" is prof_ana after an admin made her a STUDENT: she is still the subjects'
assigned professor, and none of the professor's powers may remain on either face."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from gateway.models import Base
from tests.conftest import Api
from tests.subjects.world import World, bearer, make_world

ROLES = ("anonymous", "student", "other_professor", "own_professor", "admin", "demoted_professor")
CODES = {
    401: {"UNAUTHENTICATED"},
    403: {"FORBIDDEN", "ALREADY_ENROLLED"},
    404: {"NOT_FOUND"},
    400: {"BAD_USER_INPUT", "CONFLICT"},
}


@dataclass(frozen=True)
class Op:
    method: str
    path: str
    query: str
    expected: tuple[int, int, int, int, int, int]  # REST status per ROLES
    body: dict[str, Any] | None = None
    # False when the GraphQL field is only the nearest REST twin (same status, other wording).
    same_message: bool = True


OPS = {
    "list_subjects": Op(
        "GET",
        "/subjects",
        "{ subjects(first: 5) { nodes { id } } }",
        (401, 200, 200, 200, 200, 200),
    ),
    "read_subject": Op(
        "GET",
        "/subjects/INF001",
        '{ subject(id: "INF001") { id } }',
        (401, 200, 200, 200, 200, 200),
    ),
    "enrolled_subjects": Op(
        "GET", "/subjects/enrolled", "{ enrolledSubjects { id } }", (401, 200, 200, 200, 200, 200)
    ),
    "create_subject": Op(
        "POST",
        "/subjects",
        'mutation { createSubject(input: {code: "NEW1", name: "New"}) { subject { id } } }',
        (401, 403, 403, 403, 201, 403),
        body={"subject_id": "NEW1", "name": "New"},
    ),
    "update_subject": Op(
        "PUT",
        "/subjects/INF001",
        'mutation { updateSubject(input: {subjectId: "INF001", name: "Renamed"}) '
        "{ subject { id } } }",
        (401, 403, 403, 200, 200, 403),
        body={"name": "Renamed"},
    ),
    "delete_subject": Op(
        "DELETE",
        "/subjects/INF001",
        'mutation { deleteSubject(input: {subjectId: "INF001"}) { deleted } }',
        (401, 403, 403, 403, 204, 403),
    ),
    "enroll": Op(
        "POST",
        "/subjects/INF002/enroll",
        'mutation { enroll(input: {subjectId: "INF002"}) { message } }',
        (401, 200, 400, 400, 400, 200),
    ),
    "enroll_again": Op(
        "POST",
        "/subjects/INF001/enroll",
        'mutation { enroll(input: {subjectId: "INF001"}) { message } }',
        (401, 403, 400, 400, 400, 200),
    ),
    "unenroll": Op(
        "DELETE",
        "/subjects/INF001/enroll",
        'mutation { unenroll(input: {subjectId: "INF001"}) { message } }',
        (401, 204, 400, 400, 400, 404),
    ),
    "my_students": Op(
        "GET",
        "/professor/students?subject_id=INF001",
        '{ myStudents(subjectId: "INF001") { nodes { username } } }',
        (401, 403, 403, 200, 200, 403),
    ),
    "subject_students": Op(
        "GET",
        "/professor/students?subject_id=INF001",
        '{ subject(id: "INF001") { students(first: 5) { nodes { username } } } }',
        (401, 403, 403, 200, 200, 403),
        same_message=False,
    ),
    "analytics": Op(
        "GET",
        "/professor/subjects/INF001/analytics",
        '{ subject(id: "INF001") { analytics { totalStudents } } }',
        (401, 403, 403, 200, 200, 403),
    ),
    "chat_in_subject": Op(
        "POST",
        "/chat",
        'mutation { sendMessage(input: {sessionId: "m1", subjectId: "INF001", content: "hola"})'
        " { interrupted } }",
        (401, 200, 403, 200, 200, 403),
        body={"id": "m1", "asignatura": "INF001", "content": "hola"},
    ),
    "analytics_unknown_subject": Op(
        "GET",
        "/professor/subjects/NOPE/analytics",
        '{ subject(id: "NOPE") { analytics { totalStudents } } }',
        (401, 404, 404, 404, 404, 404),
    ),
}


async def token_for(api: Api, world: World, role: str) -> str | None:
    if role == "demoted_professor":
        # prof_ana still teaches INF001 and INF002 and keeps a token issued as a professor.
        r = await api.client.post(
            "/admin/users/prof_ana/role", json={"role": "student"}, headers=bearer(world.admin)
        )
        assert r.status_code == 200, r.text
        return world.ana
    return {
        "anonymous": None,
        "student": world.gabriel,  # enrolled in INF001 (prof_ana's)
        "other_professor": world.juan,
        "own_professor": world.ana,
        "admin": world.admin,
    }[role]


async def reset(api: Api) -> None:
    async with api.gateway.db.transaction() as db:
        for table in reversed(Base.metadata.sorted_tables):
            await db.execute(table.delete())


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", OPS)
async def test_same_outcome_on_both_faces(api: Api, name: str, role: str) -> None:
    op = OPS[name]
    expected = op.expected[ROLES.index(role)]

    world = await make_world(api)
    r = await api.client.request(
        op.method, op.path, json=op.body, headers=bearer(await token_for(api, world, role))
    )
    assert r.status_code == expected, r.text
    rest_detail = r.json()["detail"] if r.status_code >= 400 else None

    await reset(api)
    world = await make_world(api)
    body = await api.gql(op.query, token=await token_for(api, world, role))
    if expected < 400:
        assert not body.get("errors"), body
        assert body["data"], body
    else:
        error = body["errors"][0]
        assert error["extensions"]["code"] in CODES[expected], body
        if op.same_message:
            assert error["message"] == rest_detail
