"""The GraphQL face of subject analytics and the professor's students."""

from __future__ import annotations

from typing import Any

from tests.analytics.world import ANALYTICS, analytics_world
from tests.conftest import Api


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
