"""Authorization matrix: every subject/enrollment/professor operation x every kind of caller,
on REST and on GraphQL, with the same outcome (status <-> extensions.code, same message).
"demoted_professor" is prof_ana after an admin made her a STUDENT: she is still the subjects'
assigned professor, and none of the professor's powers may remain on either face."""

from __future__ import annotations

import pytest

from tests.conftest import Api
from tests.matrix import Arranged, Matrix, Op, demote
from tests.subjects.world import make_world

ROLES = ("anonymous", "student", "other_professor", "own_professor", "admin", "demoted_professor")

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
    "create_subject_with_a_bad_code": Op(
        "POST",
        "/subjects",
        'mutation { createSubject(input: {code: "no spaces", name: "New"}) { subject { id } } }',
        (401, 422, 422, 422, 422, 422),
        body={"subject_id": "no spaces", "name": "New"},
    ),
    "update_subject": Op(
        "PUT",
        "/subjects/INF001",
        'mutation { updateSubject(input: {subjectId: "INF001", name: "Renamed"}) '
        "{ subject { id } } }",
        (401, 403, 403, 200, 200, 403),
        body={"name": "Renamed"},
    ),
    "update_subject_with_an_empty_name": Op(
        "PUT",
        "/subjects/INF001",
        'mutation { updateSubject(input: {subjectId: "INF001", name: ""}) { subject { id } } }',
        (401, 422, 422, 422, 422, 422),
        body={"name": ""},
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
MATRIX = Matrix(
    ROLES,
    OPS,
)


async def arrange(api: Api, role: str) -> Arranged:
    world = await make_world(api)
    if role == "demoted_professor":
        # prof_ana still teaches INF001 and INF002 and keeps a token issued as a professor.
        await demote(api, world)
        return Arranged(world.ana)
    return Arranged(
        {
            "anonymous": None,
            "student": world.gabriel,  # enrolled in INF001 (prof_ana's)
            "other_professor": world.juan,
            "own_professor": world.ana,
            "admin": world.admin,
        }[role]
    )


@pytest.mark.parametrize(("name", "role"), MATRIX.cells())
async def test_same_outcome_on_both_faces(api: Api, name: str, role: str) -> None:
    await MATRIX.check(api, name, role, lambda: arrange(api, role))
