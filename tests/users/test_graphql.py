"""Profiles over GraphQL: me, user, updateMe."""

from __future__ import annotations

from gateway.users.models import Role
from tests.conftest import Api

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
