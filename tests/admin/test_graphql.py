"""Administration over GraphQL: users, setUserRole, deleteUser."""

from __future__ import annotations

from gateway.users.models import Role
from tests.conftest import Api

SET_ROLE = """
mutation($u: ID!, $r: Role!) {
  setUserRole(input: {userId: $u, role: $r}) { user { username role } }
}
"""


async def test_list_users_graphql_connection(api: Api) -> None:
    admin = await api.user("admin", Role.ADMIN)
    for name in ("ana", "bob", "cid"):
        await api.user(name)
    q = """query($after: String) { users(role: STUDENT, first: 2, after: $after) {
        nodes { username } pageInfo { hasNextPage endCursor } } }"""
    first = (await api.gql(q, token=admin))["data"]["users"]
    assert [n["username"] for n in first["nodes"]] == ["ana", "bob"]
    assert first["pageInfo"]["hasNextPage"] is True
    second = (await api.gql(q, {"after": first["pageInfo"]["endCursor"]}, token=admin))["data"]
    assert [n["username"] for n in second["users"]["nodes"]] == ["cid"]
    assert second["users"]["pageInfo"]["hasNextPage"] is False
    huge = await api.gql("{ users(first: 100000) { nodes { username } } }", token=admin)
    assert huge["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_change_role_graphql(api: Api) -> None:
    admin = await api.user("admin", Role.ADMIN)
    await api.user("gabriel")
    body = await api.gql(SET_ROLE, {"u": "gabriel", "r": "PROFESSOR"}, token=admin)
    assert body["data"]["setUserRole"]["user"] == {"username": "gabriel", "role": "PROFESSOR"}
    unknown = await api.gql(SET_ROLE, {"u": "nobody", "r": "STUDENT"}, token=admin)
    assert unknown["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    invalid = await api.gql(SET_ROLE, {"u": "gabriel", "r": "WIZARD"}, token=admin)
    assert invalid["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
