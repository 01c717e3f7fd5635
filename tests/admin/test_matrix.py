"""Authorization matrix for administration: listing accounts (GET /admin/users <-> users),
changing a role (POST /admin/users/{u}/role <-> setUserRole) and deleting an account
(DELETE /admin/users/{u} <-> deleteUser), for every kind of caller (tests/matrix.py ROLES),
with the same outcome on both faces. Only root_admin is an admin, so demoting or deleting
that account is refused as the last admin's."""

from __future__ import annotations

import pytest

from tests.conftest import Api
from tests.matrix import ROLES, Arranged, Matrix, Op, global_id, token_for
from tests.subjects.world import make_world

ADMIN_ONLY = (401, 403, 403, 403, 403, 200)


def admin_only(status: int) -> tuple[int, ...]:
    return (*ADMIN_ONLY[:-1], status)


OPS = {
    "list_users": Op(
        "GET", "/admin/users", "{ users(first: 5) { nodes { username } } }", ADMIN_ONLY
    ),
    "list_users_by_role": Op(
        "GET",
        "/admin/users?role=PROFESSOR",
        "{ users(role: PROFESSOR, first: 5) { nodes { username } } }",
        ADMIN_ONLY,
    ),
    "set_role": Op(
        "POST",
        "/admin/users/gabriel/role",
        'mutation { setUserRole(input: {userId: "gabriel", role: PROFESSOR}) { user { role } } }',
        ADMIN_ONLY,
        body={"role": "PROFESSOR"},
    ),
    "set_role_by_global_id": Op(
        "POST",
        "/admin/users/gabriel/role",
        'mutation { setUserRole(input: {userId: "<gabriel>", role: PROFESSOR}) { user { role } } }',
        ADMIN_ONLY,
        body={"role": "PROFESSOR"},
    ),
    "set_role_of_unknown_user": Op(
        "POST",
        "/admin/users/nobody/role",
        'mutation { setUserRole(input: {userId: "nobody", role: PROFESSOR}) { user { role } } }',
        admin_only(404),
        body={"role": "PROFESSOR"},
    ),
    "demote_the_last_admin": Op(
        "POST",
        "/admin/users/root_admin/role",
        'mutation { setUserRole(input: {userId: "root_admin", role: STUDENT}) { user { role } } }',
        admin_only(400),
        body={"role": "STUDENT"},
    ),
    "delete_user": Op(
        "DELETE",
        "/admin/users/gabriel",
        'mutation { deleteUser(input: {userId: "gabriel"}) { deleted } }',
        admin_only(204),
    ),
    "delete_user_by_global_id": Op(
        "DELETE",
        "/admin/users/gabriel",
        'mutation { deleteUser(input: {userId: "<gabriel>"}) { deleted } }',
        admin_only(204),
    ),
    "delete_unknown_user": Op(
        "DELETE",
        "/admin/users/nobody",
        'mutation { deleteUser(input: {userId: "nobody"}) { deleted } }',
        admin_only(404),
    ),
    "delete_the_last_admin": Op(
        "DELETE",
        "/admin/users/root_admin",
        'mutation { deleteUser(input: {userId: "root_admin"}) { deleted } }',
        admin_only(400),
    ),
}
MATRIX = Matrix(ROLES, OPS)


async def arrange(api: Api, role: str) -> Arranged:
    world = await make_world(api)
    gabriel = await global_id(api, world.admin, '{ user(id: "gabriel") { id } }')
    return Arranged(await token_for(api, world, role), {"gabriel": gabriel})


@pytest.mark.parametrize(("name", "role"), MATRIX.cells())
async def test_same_outcome_on_both_faces(api: Api, name: str, role: str) -> None:
    await MATRIX.check(api, name, role, lambda: arrange(api, role))
