"""Authorization matrix for users: the profile (GET/PUT /users/me <-> me/updateMe) and other
users' profiles (GET /users/{username} <-> user(id:) by username or global id, and node(id:)),
for every kind of caller (tests/matrix.py ROLES), with the same outcome on both faces. The
profile read is gabriel's, the student's own."""

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
from tests.subjects.world import make_world

OPS = {
    "read_me": Op("GET", "/users/me", "{ me { username } }", (401, 200, 200, 200, 200, 200)),
    "update_me": Op(
        "PUT",
        "/users/me",
        'mutation { updateMe(input: {fullName: "New Name"}) { user { fullName } } }',
        (401, 200, 200, 200, 200, 200),
        body={"full_name": "New Name"},
    ),
    "update_me_to_a_taken_email": Op(  # maria's own address is no change for her
        "PUT",
        "/users/me",
        'mutation { updateMe(input: {email: "maria@example.com"}) { user { email } } }',
        (401, 400, 200, 400, 400, 400),
        body={"email": "maria@example.com"},
    ),
    "update_me_with_a_bad_email": Op(
        "PUT",
        "/users/me",
        'mutation { updateMe(input: {email: "not-an-email"}) { user { email } } }',
        (401, 422, 422, 422, 422, 422),
        body={"email": "not-an-email"},
    ),
    "read_user": Op(
        "GET",
        "/users/gabriel",
        '{ user(id: "gabriel") { username } }',
        (401, 200, 403, 200, 403, 200),
    ),
    "read_user_by_global_id": Op(
        "GET",
        "/users/gabriel",
        '{ user(id: "<gabriel>") { username } }',
        (401, 200, 403, 200, 403, 200),
    ),
    "read_user_node": Op(
        "GET",
        "/users/gabriel",
        '{ node(id: "<gabriel>") { id } }',
        (401, 200, 403, 200, 403, 200),
    ),
    "read_unknown_user": Op(
        "GET",
        "/users/nobody",
        '{ user(id: "nobody") { username } }',
        (401, 403, 403, 404, 403, 404),
    ),
}
MATRIX = Matrix(
    ROLES,
    OPS,
)


async def arrange(api: Api, role: str) -> Arranged:
    world = await make_world(api)
    gabriel = await global_id(api, world.admin, '{ user(id: "gabriel") { id } }')
    return Arranged(await token_for(api, world, role), {"gabriel": gabriel})


@pytest.mark.parametrize(("name", "role"), MATRIX.cells())
async def test_same_outcome_on_both_faces(api: Api, name: str, role: str) -> None:
    await MATRIX.check(api, name, role, lambda: arrange(api, role))
