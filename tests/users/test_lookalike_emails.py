"""Issue 13, item 10d: an email local part that only looks like another one does not make a
second account. Fullwidth forms are folded by NFKC (so they meet the unique constraint);
other non-ASCII local parts (Cyrillic look-alikes) are refused with 422 / BAD_USER_INPUT."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import PASSWORD, Api
from tests.users.test_rest import UPDATE, auth

FULLWIDTH = "\uff41\uff44\uff4d\uff49\uff4e@example.com"  # "admin" in fullwidth letters
CYRILLIC_A = "\u0430dmin@example.com"  # Cyrillic a, then Latin "dmin"
ALL_CYRILLIC = "\u0430\u0441\u0435@example.com"  # looks like "ace"

REGISTER = """
mutation($input: RegisterInput!) { register(input: $input) { user { username email } } }
"""


def body(username: str, email: str) -> dict[str, Any]:
    return {"username": username, "email": email, "password": PASSWORD}


async def test_fullwidth_folds_into_the_existing_account_on_both_faces(api: Api) -> None:
    first = await api.client.post("/register", json=body("admin1", "admin@example.com"))
    assert first.status_code in (200, 201), first.text
    rest = await api.client.post("/register", json=body("admin2", FULLWIDTH))
    assert rest.status_code == 400, rest.text
    gql = await api.gql(REGISTER, {"input": body("admin3", FULLWIDTH.upper())})
    assert gql["errors"][0]["extensions"]["code"] == "CONFLICT", gql
    # On its own, a fullwidth address is stored in its plain form.
    alone = await api.client.post("/register", json=body("solo", "\uff53\uff4f\uff4c\uff4f@x.org"))
    assert alone.json()["email"] == "solo@x.org"


@pytest.mark.parametrize("email", [CYRILLIC_A, ALL_CYRILLIC])
async def test_non_ascii_local_parts_are_refused_on_both_faces(api: Api, email: str) -> None:
    rest = await api.client.post("/register", json=body("cyril", email))
    assert rest.status_code == 422, rest.text
    assert rest.json()["detail"][0]["loc"] == ["body", "email"]
    gql = await api.gql(REGISTER, {"input": body("cyril", email)})
    assert gql["data"] is None and gql["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    token = await api.user("cyril2")
    put = await api.client.put("/users/me", headers=auth(token), json={"email": email})
    assert put.status_code == 422, put.text
    update = await api.gql(UPDATE, {"input": {"email": email}}, token=token)
    assert update["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    me = await api.client.get("/users/me", headers=auth(token))
    assert me.json()["email"] == "cyril2@example.com"


async def test_update_me_folds_fullwidth_into_a_conflict(api: Api) -> None:
    await api.user("maria")
    token = await api.user("gabriel")
    fullwidth_maria = "\uff4d\uff41\uff52\uff49\uff41@example.com"
    put = await api.client.put("/users/me", headers=auth(token), json={"email": fullwidth_maria})
    assert put.status_code == 400 and put.json() == {"detail": "Email already in use"}
