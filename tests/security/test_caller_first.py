"""The caller is resolved before the body is validated (issue 14, as in the legacy API): an
anonymous request to a route that needs a login is a 401 whatever its body; a bad token too.
GraphQL's chat mutations say UNAUTHENTICATED before they look at their input."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api

BODIES: list[Any] = [{}, {"unexpected": 1}, [], "text", {"content": ""}]
ROUTES = [
    ("POST", "/chat"),
    ("POST", "/sessions/00000000-0000-0000-0000-000000000000/resume_chat"),
    ("PATCH", "/sessions/00000000-0000-0000-0000-000000000000"),
    ("PUT", "/users/me"),
    ("POST", "/subjects"),
    ("PUT", "/subjects/INF001"),
    ("POST", "/admin/users/someone/role"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize("body", BODIES, ids=["empty", "unknown", "list", "string", "blank"])
@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token"], ids=["none", "bad"])
async def test_a_route_that_needs_a_login_answers_401_before_reading_the_body(
    api: Api, method: str, path: str, body: Any, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = await api.client.request(method, path, json=body, headers=headers)
    assert response.status_code == 401, response.text
    assert response.json() == {"detail": response.json()["detail"]}
    assert response.headers.get("www-authenticate", "").lower().startswith("bearer")


@pytest.mark.parametrize(
    "document",
    [
        'mutation { sendMessage(input: {sessionId: "not a uuid", subjectId: "x", content: ""}) '
        "{ interrupted } }",
        'mutation { answerQuestion(input: {sessionId: "nope", answer: "", questionIndex: -1}) '
        "{ interrupted } }",
    ],
)
async def test_graphql_chat_mutations_check_the_caller_first(api: Api, document: str) -> None:
    body = await api.gql(document)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]
