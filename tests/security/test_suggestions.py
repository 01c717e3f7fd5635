"""Issue 13, item 10a: production answers carry no "Did you mean" hint of any kind."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Api

TYPOS = {
    "field": "{ usr { id } }",
    "argument": "{ users(rol: ADMIN) { edges { node { id } } } }",
    "enum value": "{ users(role: ADMINN) { edges { node { id } } } }",
    "type": "query Q($r: Rol) { users(role: $r) { edges { node { id } } } }",
    "input field": ('mutation { login(input: {usernam: "a", password: "b"}) { accessToken } }'),
    "enum value in a variable": "query Q($r: Role) { users(role: $r) { edges { node { id } } } }",
    "input field in a variable": (
        "mutation Q($i: LoginInput!) { login(input: $i) { accessToken } }"
    ),
}
VARIABLES = {
    "enum value in a variable": {"r": "ADMINN"},
    "input field in a variable": {"i": {"usernam": "a", "password": "b"}},
}


@pytest.mark.parametrize("kind", list(TYPOS))
async def test_production_strips_every_suggestion(
    prod_client: httpx.AsyncClient, api: Api, kind: str
) -> None:
    body = {"query": TYPOS[kind], "variables": VARIABLES.get(kind, {})}
    dev = await api.client.post("/graphql", json=body)
    assert "Did you mean" in dev.text, dev.text  # the typo does produce a hint elsewhere
    prod = await prod_client.post("/graphql", json=body)
    errors = prod.json()["errors"]
    assert errors and all("Did you mean" not in e["message"] for e in errors), prod.text
    assert "Did you mean" not in prod.text
