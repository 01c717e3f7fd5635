"""Administration over REST: /admin/users (with the GraphQL twin asserted alongside where one
test covers both faces)."""

from __future__ import annotations

import pytest

from gateway.users.models import Role
from tests.conftest import Api

SET_ROLE = """
mutation($u: ID!, $r: Role!) {
  setUserRole(input: {userId: $u, role: $r}) { user { username role } }
}
"""


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_list_users_with_role_filter_and_paging(api: Api) -> None:
    admin = await api.user("admin", Role.ADMIN)
    for name in ("ana", "bob", "cid"):
        await api.user(name)
    await api.user("prof_ana", Role.PROFESSOR)
    r = await api.client.get("/admin/users", headers=auth(admin))
    assert r.status_code == 200
    assert [u["username"] for u in r.json()] == ["admin", "ana", "bob", "cid", "prof_ana"]
    assert set(r.json()[0]) == {"username", "email", "full_name", "role", "subjects", "created_at"}
    students = await api.client.get(
        "/admin/users", params={"role": "student", "limit": 2, "skip": 1}, headers=auth(admin)
    )
    assert [u["username"] for u in students.json()] == ["bob", "cid"]
    bad = await api.client.get("/admin/users", params={"role": "GOD"}, headers=auth(admin))
    assert bad.status_code == 400 and bad.json() == {"detail": "Invalid role"}
    too_big = await api.client.get("/admin/users", params={"limit": 100000}, headers=auth(admin))
    assert too_big.status_code == 422


@pytest.mark.parametrize("role", [Role.STUDENT, Role.PROFESSOR])
async def test_non_admins_cannot_administer(api: Api, role: Role) -> None:
    await api.user("admin", Role.ADMIN)
    token = await api.user("someone", role)
    assert (await api.client.get("/admin/users", headers=auth(token))).status_code == 403
    r = await api.client.post(
        "/admin/users/someone/role", json={"role": "ADMIN"}, headers=auth(token)
    )
    assert r.status_code == 403
    body = await api.gql(SET_ROLE, {"u": "someone", "r": "ADMIN"}, token=token)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    listing = await api.gql("{ users { nodes { username } } }", token=token)
    assert listing["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    me = await api.client.get("/users/me", headers=auth(token))
    assert me.json()["role"] == role.value
    assert (await api.client.get("/admin/users")).status_code == 401


async def test_change_role_rest(api: Api) -> None:
    admin = await api.user("admin", Role.ADMIN)
    await api.user("gabriel")
    r = await api.client.post(
        "/admin/users/gabriel/role", json={"role": "professor"}, headers=auth(admin)
    )
    assert r.status_code == 200
    assert r.json() == {"username": "gabriel", "role": "PROFESSOR", "message": "User role updated"}
    invalid = await api.client.post(
        "/admin/users/gabriel/role", json={"role": "wizard"}, headers=auth(admin)
    )
    assert invalid.status_code == 400 and invalid.json() == {"detail": "Invalid role"}
    unknown = await api.client.post(
        "/admin/users/nobody/role", json={"role": "STUDENT"}, headers=auth(admin)
    )
    assert unknown.status_code == 404 and unknown.json() == {"detail": "User not found"}
    missing = await api.client.post("/admin/users/gabriel/role", json={}, headers=auth(admin))
    assert missing.status_code == 422


async def test_role_change_takes_effect_with_an_old_token(api: Api) -> None:
    admin = await api.user("admin", Role.ADMIN)
    prof = await api.user("prof", Role.PROFESSOR)
    await api.user("gabriel")
    assert (await api.client.get("/users/gabriel", headers=auth(prof))).status_code == 200
    await api.client.post("/admin/users/prof/role", json={"role": "STUDENT"}, headers=auth(admin))
    # Same token, minted while PROFESSOR: the database now says STUDENT.
    assert (await api.client.get("/users/gabriel", headers=auth(prof))).status_code == 403
    body = await api.gql('{ user(id: "gabriel") { username } }', token=prof)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # And a promotion is honoured at once too.
    student = await api.user("stu")
    await api.client.post("/admin/users/stu/role", json={"role": "ADMIN"}, headers=auth(admin))
    assert (await api.client.get("/admin/users", headers=auth(student))).status_code == 200


async def test_deleted_account_token_is_refused(api: Api) -> None:
    admin = await api.user("admin", Role.ADMIN)
    token = await api.user("gabriel")
    r = await api.client.delete("/admin/users/gabriel", headers=auth(admin))
    assert r.status_code == 204
    assert (await api.client.get("/users/me", headers=auth(token))).status_code == 401
    body = await api.gql("{ me { username } }", token=token)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    # Re-registering the same username does not revive the old token.
    await api.register("gabriel")
    assert (await api.client.get("/users/me", headers=auth(token))).status_code == 401
    again = await api.client.delete("/admin/users/gabriel-x", headers=auth(admin))
    assert again.status_code == 404


async def test_last_admin_cannot_be_demoted_or_deleted(api: Api) -> None:
    admin = await api.user("admin", Role.ADMIN)
    r = await api.client.post(
        "/admin/users/admin/role", json={"role": "STUDENT"}, headers=auth(admin)
    )
    assert r.status_code == 400 and r.json() == {"detail": "Cannot remove the last admin"}
    body = await api.gql(SET_ROLE, {"u": "admin", "r": "STUDENT"}, token=admin)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert (await api.client.delete("/admin/users/admin", headers=auth(admin))).status_code == 400
    gql_delete = await api.gql(
        'mutation { deleteUser(input: {userId: "admin"}) { deleted } }', token=admin
    )
    assert gql_delete["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    # With a second admin, the first may step down.
    await api.user("admin2", Role.ADMIN)
    ok = await api.client.post(
        "/admin/users/admin/role", json={"role": "STUDENT"}, headers=auth(admin)
    )
    assert ok.status_code == 200
    assert (await api.client.get("/admin/users", headers=auth(admin))).status_code == 403
