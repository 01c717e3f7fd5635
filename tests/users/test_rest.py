"""Profiles over REST: GET/PUT /users/me, GET /users/{username} (with the GraphQL twin of
each rule asserted alongside where one test covers both faces)."""

from __future__ import annotations

import pytest

from gateway.users.models import Role
from tests.conftest import Api

UPDATE = """
mutation($input: UpdateMeInput!) {
  updateMe(input: $input) { user { fullName email preferences { theme notifications } } }
}
"""


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_me_requires_authentication(api: Api) -> None:
    r = await api.client.get("/users/me")
    assert r.status_code == 401 and r.json() == {"detail": "Not authenticated"}
    assert r.headers["www-authenticate"] == "Bearer"
    body = await api.gql("{ me { username } }")
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    garbage = await api.client.get("/users/me", headers=auth("not-a-jwt"))
    assert garbage.status_code == 401


async def test_me_returns_profile_with_preferences(api: Api) -> None:
    token = await api.user("gabriel")
    r = await api.client.get("/users/me", headers=auth(token))
    assert r.json() == {
        "username": "gabriel",
        "email": "gabriel@example.com",
        "full_name": "Gabriel",
        "role": "STUDENT",
        "subjects": [],
        "preferences": {"theme": "light", "notifications": True},
    }
    body = await api.gql(
        "{ me { username email role preferences { theme notifications } } }", token=token
    )
    assert body["data"]["me"] == {
        "username": "gabriel",
        "email": "gabriel@example.com",
        "role": "STUDENT",
        "preferences": {"theme": "light", "notifications": True},
    }


async def test_update_me_rest_changes_profile_and_keeps_other_fields(api: Api) -> None:
    token = await api.user("gabriel")
    r = await api.client.put(
        "/users/me",
        headers=auth(token),
        json={
            "full_name": "Gabriel Francisco García",
            "email": "gabriel.new@example.com",
            "preferences": {"theme": "dark", "notifications": False},
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["email"] == "gabriel.new@example.com"
    assert r.json()["preferences"] == {"theme": "dark", "notifications": False}
    partial = await api.client.put(
        "/users/me", headers=auth(token), json={"preferences": {"theme": "light"}}
    )
    assert partial.json()["preferences"] == {"theme": "light", "notifications": False}
    assert partial.json()["full_name"] == "Gabriel Francisco García"


async def test_update_me_ignores_role_and_username(api: Api) -> None:
    token = await api.user("gabriel")
    r = await api.client.put(
        "/users/me", headers=auth(token), json={"role": "ADMIN", "username": "root"}
    )
    assert r.status_code == 200
    assert r.json()["role"] == "STUDENT" and r.json()["username"] == "gabriel"
    body = await api.gql(UPDATE, {"input": {"role": "ADMIN"}}, token=token)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"  # no such input field


async def test_update_me_email_in_use_is_400_on_both_faces(api: Api) -> None:
    await api.user("maria")
    token = await api.user("gabriel")
    r = await api.client.put("/users/me", headers=auth(token), json={"email": "maria@example.com"})
    assert r.status_code == 400 and r.json() == {"detail": "Email already in use"}
    body = await api.gql(UPDATE, {"input": {"email": "MARIA@example.com"}}, token=token)
    assert body["errors"][0]["extensions"]["code"] == "CONFLICT"
    assert body["errors"][0]["message"] == "Email already in use"


async def test_update_me_invalid_body_is_422_and_bad_user_input(api: Api) -> None:
    token = await api.user("gabriel")
    r = await api.client.put(
        "/users/me", headers=auth(token), json={"preferences": {"theme": "neon"}}
    )
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "preferences", "theme"]
    body = await api.gql(UPDATE, {"input": {"preferences": {"theme": "neon"}}}, token=token)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    me = await api.client.get("/users/me", headers=auth(token))
    assert me.json()["preferences"]["theme"] == "light"


@pytest.mark.parametrize(
    ("viewer", "status"),
    [(Role.STUDENT, 403), (Role.PROFESSOR, 200), (Role.ADMIN, 200)],
)
async def test_read_other_user_is_for_staff_only(api: Api, viewer: Role, status: int) -> None:
    await api.user("gabriel")
    token = await api.user("viewer", viewer)
    r = await api.client.get("/users/gabriel", headers=auth(token))
    assert r.status_code == status
    body = await api.gql('{ user(id: "gabriel") { username email } }', token=token)
    if status == 200:
        assert r.json() == {
            "username": "gabriel",
            "email": "gabriel@example.com",
            "full_name": "Gabriel",
            "role": "STUDENT",
            "subjects": [],
        }
        assert body["data"]["user"] == {"username": "gabriel", "email": "gabriel@example.com"}
    else:
        assert r.json()["detail"] == "Insufficient permissions"
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_read_unknown_user_is_404(api: Api) -> None:
    token = await api.user("prof", Role.PROFESSOR)
    r = await api.client.get("/users/nobody", headers=auth(token))
    assert r.status_code == 404 and r.json() == {"detail": "User not found"}
    body = await api.gql('{ user(id: "nobody") { username } }', token=token)
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    anonymous = await api.client.get("/users/gabriel")
    assert anonymous.status_code == 401
