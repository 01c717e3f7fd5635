"""Profiles over GraphQL: me, user, updateMe."""

from __future__ import annotations

from gateway.users.models import Role
from tests.conftest import PASSWORD, Api

UPDATE = """
mutation($input: UpdateMeInput!) {
  updateMe(input: $input) { user { fullName email preferences { theme notifications } } }
}
"""


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_update_me_graphql(api: Api) -> None:
    token = await api.user("gabriel")
    body = await api.gql(
        UPDATE,
        {"input": {"fullName": "G. F.", "preferences": {"theme": "dark"}}},
        token=token,
    )
    assert body["data"]["updateMe"]["user"] == {
        "fullName": "G. F.",
        "email": "gabriel@example.com",
        "preferences": {"theme": "dark", "notifications": True},
    }
    rest = await api.client.get("/users/me", headers=auth(token))
    assert rest.json()["full_name"] == "G. F."


async def test_other_users_preferences_are_private(api: Api) -> None:
    await api.user("gabriel")
    token = await api.user("admin", Role.ADMIN)
    body = await api.gql('{ user(id: "gabriel") { preferences { theme } } }', token=token)
    assert body["data"]["user"]["preferences"] is None


LOGIN_USER = """
mutation($u: String!, $p: String!) {
  login(input: {username: $u, password: $p}) {
    user { username email preferences { theme } subjectCodes }
  }
}
"""


async def test_user_fields_resolved_before_the_caller_is_read(api: Api) -> None:
    """`login` reads no caller, so its user's viewer-dependent fields are the first to ask
    who is calling: the caller is the request's token (none, or an admin's), never the user
    just logged in, exactly as on any other path."""
    await api.user("gabriel")
    admin = await api.user("admin", Role.ADMIN)
    variables = {"u": "gabriel", "p": PASSWORD}
    anonymous = await api.gql(LOGIN_USER, variables)
    assert anonymous["data"]["login"]["user"] == {
        "username": "gabriel",
        "email": None,
        "preferences": None,
        "subjectCodes": [],
    }
    as_admin = await api.gql(LOGIN_USER, variables, token=admin)
    assert as_admin["data"]["login"]["user"]["email"] == "gabriel@example.com"
    assert as_admin["data"]["login"]["user"]["preferences"] is None  # the user's own only
