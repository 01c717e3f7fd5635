"""The nullability rule (docs/graphql-schema.md): a field the viewer may be refused is
nullable, so one refusal nulls that field, with its error, and leaves its siblings alone."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api
from tests.subjects.world import make_world

MIXED = """{
  me { username role }
  subject(id: "INF001") { name analytics { totalStudents } }
}"""


def codes_at(body: dict[str, Any]) -> list[tuple[list[Any], str]]:
    return [(e["path"], e["extensions"]["code"]) for e in body.get("errors", [])]


async def test_a_refused_field_does_not_null_its_siblings(api: Api) -> None:
    w = await make_world(api)
    body = await api.gql(MIXED, token=w.gabriel)
    assert body["data"] == {
        "me": {"username": "gabriel", "role": "STUDENT"},
        "subject": {"name": "Algorithms", "analytics": None},
    }
    assert codes_at(body) == [(["subject", "analytics"], "FORBIDDEN")]


async def test_refused_lookups_and_admin_roots_are_null_with_their_error(api: Api) -> None:
    w = await make_world(api)
    query = """{
      me { username }
      a: subject(id: "NOPE") { name }
      b: subject(id: "INF001") { name students { nodes { username } } }
      c: user(id: "prof_ana") { username }
      users(first: 1) { nodes { username } }
      myStudents(first: 1) { nodes { username } }
      me2: me { quizAttempts { nodes { percentage } } }
    }"""
    body = await api.gql(query, token=w.gabriel)
    assert body["data"] == {
        "me": {"username": "gabriel"},
        "a": None,
        "b": {"name": "Algorithms", "students": None},
        "c": None,
        "users": None,
        "myStudents": None,
        "me2": {"quizAttempts": {"nodes": []}},
    }
    assert sorted(codes_at(body)) == sorted(
        [
            (["a"], "NOT_FOUND"),
            (["b", "students"], "FORBIDDEN"),
            (["c"], "FORBIDDEN"),
            (["users"], "FORBIDDEN"),
            (["myStudents"], "FORBIDDEN"),
        ]
    )
