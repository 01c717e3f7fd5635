"""The role x operation x face matrix: each operation, for each kind of caller, on REST and on
GraphQL, must have the same outcome. A domain's test file declares its roles, its operations
(a REST request and its GraphQL twin, with the REST status expected per role) and how to
arrange the world for one caller; `check` runs one cell.

The one place where the faces legitimately differ in shape is encoded here, once:
- a REST status is a GraphQL `extensions.code` (CODES), with the same message, except REST's
  422 (a list of validation errors) for GraphQL's BAD_USER_INPUT ("Invalid input");
- a refused field is null in GraphQL, with its error at its path: a nullable field (`user`,
  `session`, `node`, `users`, ...) is null itself, a non-null one nulls its parent (up to
  `data: null` for a root field such as `me` or a mutation);
- a 2xx (200, 201, 204) is a GraphQL answer without errors whose root fields are all set."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from _pytest.mark import ParameterSet

from gateway.models import Base
from tests.conftest import Api
from tests.subjects.world import World, bearer

CODES = {
    401: {"UNAUTHENTICATED"},
    403: {"FORBIDDEN", "ALREADY_ENROLLED"},
    404: {"NOT_FOUND"},
    400: {"BAD_USER_INPUT", "CONFLICT"},
    422: {"BAD_USER_INPUT"},  # REST's body validation; its detail is a list, not a message
}

# The callers of the users, admin and sessions matrices, over tests/subjects/world.py:
# "student" is gabriel (the owner of what is read or changed), "other_student" is maria,
# "professor" is prof_ana (who teaches gabriel's subject), "demoted_professor" is prof_ana
# after an admin made her a STUDENT (she keeps a token issued while she was a professor).
ROLES = ("anonymous", "student", "other_student", "professor", "demoted_professor", "admin")


@dataclass(frozen=True)
class Op:
    """`path`, `body` and `query` may hold `<name>` placeholders, filled from the arranged
    world's facts (ids only known once it exists, such as a global id)."""

    method: str
    path: str
    query: str
    expected: tuple[int, ...]  # REST status per role, in the matrix's role order
    body: dict[str, Any] | None = None
    # False when the GraphQL field is only the nearest REST twin (same status, other wording).
    same_message: bool = True


@dataclass(frozen=True)
class Arranged:
    """The world one cell runs in: the caller's token and the facts the operations name."""

    token: str | None
    facts: Mapping[str, str] = field(default_factory=dict)

    def fill(self, text: str) -> str:
        for name, value in self.facts.items():
            text = text.replace(f"<{name}>", value)
        return text

    def fill_body(self, body: Any) -> Any:
        if isinstance(body, str):
            return self.fill(body)
        if isinstance(body, dict):
            return {k: self.fill_body(v) for k, v in body.items()}
        if isinstance(body, list):
            return [self.fill_body(v) for v in body]
        return body


Arrange = Callable[[], Awaitable[Arranged]]


@dataclass(frozen=True)
class Matrix:
    """`disagreements`: cells where the faces are known to disagree, (op, role) -> the bug.
    They run as strict xfails: the right outcome stays encoded, and the cell turns red (XPASS)
    once the bug is fixed, so its entry must then go."""

    roles: Sequence[str]
    ops: Mapping[str, Op]
    disagreements: Mapping[tuple[str, str], str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, op in self.ops.items():
            assert len(op.expected) == len(self.roles), name
        for name, role in self.disagreements:
            assert name in self.ops and role in self.roles, (name, role)

    def cells(self) -> list[ParameterSet]:
        return [
            pytest.param(name, role, id=f"{name}-{role}", marks=self._marks(name, role))
            for name in self.ops
            for role in self.roles
        ]

    def _marks(self, name: str, role: str) -> list[pytest.MarkDecorator]:
        bug = self.disagreements.get((name, role))
        return [] if bug is None else [pytest.mark.xfail(strict=True, reason=bug)]

    def expected(self, name: str, role: str) -> int:
        return self.ops[name].expected[list(self.roles).index(role)]

    async def check(self, api: Api, name: str, role: str, arrange: Arrange) -> None:
        """One cell: the REST request in a fresh world, then the GraphQL twin in another."""
        op = self.ops[name]
        expected = self.expected(name, role)

        world = await arrange()
        r = await api.client.request(
            op.method,
            world.fill(op.path),
            json=world.fill_body(op.body),
            headers=bearer(world.token),
        )
        assert r.status_code == expected, f"REST {name} as {role}: {r.status_code} {r.text}"
        rest_detail = r.json()["detail"] if r.status_code >= 400 else None

        await reset(api)
        world = await arrange()
        body = await api.gql(world.fill(op.query), token=world.token)
        where = f"GraphQL {name} as {role} (REST {expected}): {body}"
        if expected < 400:
            assert not body.get("errors"), where
            assert body.get("data") and all(v is not None for v in body["data"].values()), where
            return
        assert body.get("errors"), where
        error = body["errors"][0]
        assert error["extensions"]["code"] in CODES[expected], where
        assert refused_is_null(body.get("data"), error.get("path") or []), where
        if op.same_message and isinstance(rest_detail, str):
            assert error["message"] == rest_detail, where


def refused_is_null(data: Any, path: Sequence[str | int]) -> bool:
    """The value at the error's path is null, or a parent is (a non-null field's null
    propagates up)."""
    node = data
    for step in path:
        if node is None:
            return True
        node = node[step]
    return node is None


async def reset(api: Api) -> None:
    async with api.gateway.db.transaction() as db:
        for table in reversed(Base.metadata.sorted_tables):
            await db.execute(table.delete())


async def demote(api: Api, world: World, username: str = "prof_ana") -> None:
    r = await api.client.post(
        f"/admin/users/{username}/role", json={"role": "student"}, headers=bearer(world.admin)
    )
    assert r.status_code == 200, r.text


async def token_for(api: Api, world: World, role: str) -> str | None:
    """A token for one of ROLES."""
    if role == "demoted_professor":
        await demote(api, world)
        return world.ana
    return {
        "anonymous": None,
        "student": world.gabriel,
        "other_student": world.maria,
        "professor": world.ana,
        "admin": world.admin,
    }[role]


async def global_id(api: Api, token: str, query: str) -> str:
    """An object's opaque id, read by someone who may see it (`query` selects one `{ id }`)."""
    body = await api.gql(query, token=token)
    assert not body.get("errors"), body
    (found,) = body["data"].values()
    value: str = found["id"]
    return value
