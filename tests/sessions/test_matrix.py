"""Authorization matrix for chat sessions, for every kind of caller (tests/matrix.py ROLES),
with the same outcome on both faces: listing (GET /sessions <-> sessions, also by subject),
reading (GET /sessions/{id} <-> session(id:) by UUID or global id, and node(id:); its
messages <-> session.messages), renaming (PATCH
<-> renameSession), deleting (DELETE <-> deleteSession), chatting (POST /chat <->
sendMessage) and answering a quiz question (resume_chat <-> answerQuestion).

The world: gabriel owns "s-quiz" in INF001, where the tutor stub (its demo quiz) has left a
pending question, and "s-plain" without one. maria is enrolled in INF001 too, so what
refuses her is the ownership rule, not the subject's; prof_ana teaches INF001."""

from __future__ import annotations

import pytest

from tests.conftest import Api
from tests.matrix import (
    ROLES,
    Arranged,
    Matrix,
    Op,
    global_id,
    token_for,
)
from tests.subjects.world import bearer, make_world
from tests.upstream_stub import Stub

SIGNED_IN = (401, 200, 200, 200, 200, 200)
OWNER_ONLY = (401, 200, 403, 403, 403, 403)
MISSING = (401, 404, 404, 404, 404, 404)


def owner_only(status: int) -> tuple[int, ...]:
    return (401, status, *OWNER_ONLY[2:])


ANSWER = "{ interrupted pendingQuestion { questionNum } }"

OPS = {
    "list_sessions": Op("GET", "/sessions", "{ sessions(first: 5) { nodes { id } } }", SIGNED_IN),
    "read_session": Op(
        "GET", "/sessions/s-quiz", '{ session(id: "s-quiz") { id messageCount } }', OWNER_ONLY
    ),
    "list_sessions_of_a_subject": Op(
        "GET",
        "/sessions?subject=INF001",
        '{ sessions(subjectId: "INF001", first: 5) { nodes { id messageCount } } }',
        SIGNED_IN,
    ),
    "read_session_messages": Op(  # the messages DataLoader applies the rule too
        "GET",
        "/sessions/s-quiz?limit=5",
        '{ session(id: "s-quiz") { messages(first: 5) { nodes { role content } } } }',
        OWNER_ONLY,
    ),
    "read_session_by_global_id": Op(
        "GET", "/sessions/s-quiz", '{ session(id: "<s-quiz>") { id } }', OWNER_ONLY
    ),
    "read_session_node": Op(
        "GET", "/sessions/s-quiz", '{ node(id: "<s-quiz>") { id } }', OWNER_ONLY
    ),
    "read_unknown_session": Op(
        "GET", "/sessions/s-nope", '{ session(id: "s-nope") { id } }', MISSING
    ),
    "rename_session": Op(
        "PATCH",
        "/sessions/s-quiz",
        'mutation { renameSession(input: {sessionId: "s-quiz", title: "Renamed"}) '
        "{ session { title } } }",
        OWNER_ONLY,
        body={"title": "Renamed"},
    ),
    "rename_session_to_an_empty_title": Op(
        "PATCH",
        "/sessions/s-quiz",
        'mutation { renameSession(input: {sessionId: "s-quiz", title: " "}) '
        "{ session { title } } }",
        (401, 422, 422, 422, 422, 422),
        body={"title": " "},
    ),
    "rename_unknown_session": Op(
        "PATCH",
        "/sessions/s-nope",
        'mutation { renameSession(input: {sessionId: "s-nope", title: "Renamed"}) '
        "{ session { title } } }",
        MISSING,
        body={"title": "Renamed"},
    ),
    "delete_session": Op(
        "DELETE",
        "/sessions/s-quiz",
        'mutation { deleteSession(input: {sessionId: "s-quiz"}) { deleted } }',
        owner_only(204),
    ),
    "delete_session_by_global_id": Op(
        "DELETE",
        "/sessions/s-quiz",
        'mutation { deleteSession(input: {sessionId: "<s-quiz>"}) { deleted } }',
        owner_only(204),
    ),
    "delete_unknown_session": Op(
        "DELETE",
        "/sessions/s-nope",
        'mutation { deleteSession(input: {sessionId: "s-nope"}) { deleted } }',
        MISSING,
    ),
    "chat_in_a_session": Op(
        "POST",
        "/chat",
        'mutation { sendMessage(input: {sessionId: "s-plain", subjectId: "INF001", '
        'content: "hola"}) { interrupted } }',
        OWNER_ONLY,
        body={"id": "s-plain", "asignatura": "INF001", "content": "hola"},
    ),
    "chat_in_a_new_session": Op(  # prof_ana, demoted, neither teaches nor is enrolled
        "POST",
        "/chat",
        'mutation { sendMessage(input: {sessionId: "s-new", subjectId: "INF001", '
        'content: "hola"}) { interrupted } }',
        (401, 200, 200, 200, 403, 200),
        body={"id": "s-new", "asignatura": "INF001", "content": "hola"},
    ),
    "chat_in_an_invalid_session_id": Op(
        "POST",
        "/chat",
        'mutation { sendMessage(input: {sessionId: "no spaces", subjectId: "INF001", '
        'content: "hola"}) { interrupted } }',
        (401, 422, 422, 422, 422, 422),
        body={"id": "no spaces", "asignatura": "INF001", "content": "hola"},
    ),
    "answer_with_an_empty_answer": Op(
        "POST",
        "/sessions/s-quiz/resume_chat",
        'mutation { answerQuestion(input: {sessionId: "s-quiz", answer: " ", '
        f"questionIndex: 1}}) {ANSWER} }}",
        owner_only(400),
        body={"answer": " ", "current_question_index": 1},
    ),
    "answer_question": Op(
        "POST",
        "/sessions/s-quiz/resume_chat",
        'mutation { answerQuestion(input: {sessionId: "s-quiz", answer: "O(n log n)", '
        f"questionIndex: 1}}) {ANSWER} }}",
        OWNER_ONLY,
        body={"answer": "O(n log n)", "current_question_index": 1},
    ),
    "answer_question_by_global_id": Op(
        "POST",
        "/sessions/s-quiz/resume_chat",
        'mutation { answerQuestion(input: {sessionId: "<s-quiz>", answer: "O(n log n)", '
        f"questionIndex: 1}}) {ANSWER} }}",
        OWNER_ONLY,
        body={"answer": "O(n log n)", "current_question_index": 1},
    ),
    "answer_the_wrong_question": Op(
        "POST",
        "/sessions/s-quiz/resume_chat",
        'mutation { answerQuestion(input: {sessionId: "s-quiz", answer: "O(n log n)", '
        f"questionIndex: 2}}) {ANSWER} }}",
        owner_only(400),
        body={"answer": "O(n log n)", "current_question_index": 2},
    ),
    "answer_without_a_pending_question": Op(
        "POST",
        "/sessions/s-plain/resume_chat",
        'mutation { answerQuestion(input: {sessionId: "s-plain", answer: "O(n log n)", '
        f"questionIndex: 1}}) {ANSWER} }}",
        owner_only(400),
        body={"answer": "O(n log n)", "current_question_index": 1},
    ),
    "answer_in_an_unknown_session": Op(
        "POST",
        "/sessions/s-nope/resume_chat",
        'mutation { answerQuestion(input: {sessionId: "s-nope", answer: "O(n log n)", '
        f"questionIndex: 1}}) {ANSWER} }}",
        MISSING,
        body={"answer": "O(n log n)", "current_question_index": 1},
    ),
}
MATRIX = Matrix(
    ROLES,
    OPS,
)


async def arrange(api: Api, stub: Stub, role: str) -> Arranged:
    stub.reset()  # the demo tutor forgets the quiz of the other face's run
    world = await make_world(api)
    r = await api.client.post("/subjects/INF001/enroll", headers=bearer(world.maria))
    assert r.status_code == 200, r.text
    for session_id, content in (("s-quiz", "Hazme un test"), ("s-plain", "hola")):
        r = await api.client.post(
            "/chat",
            json={"id": session_id, "asignatura": "INF001", "content": content},
            headers=bearer(world.gabriel),
        )
        assert r.status_code == 200, r.text
        assert r.json()["interrupted"] is (session_id == "s-quiz"), r.text
    session = await global_id(api, world.gabriel, '{ session(id: "s-quiz") { id } }')
    return Arranged(await token_for(api, world, role), {"s-quiz": session})


@pytest.mark.parametrize(("name", "role"), MATRIX.cells())
async def test_same_outcome_on_both_faces(api: Api, stub: Stub, name: str, role: str) -> None:
    await MATRIX.check(api, name, role, lambda: arrange(api, stub, role))
