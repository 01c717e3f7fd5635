"""Concurrent writers: exactly one winner, clear 4xx for the others, no 500, no duplicate rows.

On PostgreSQL the requests really overlap (one pooled connection each); on SQLite the database
serialises writers. The assertions are the ones that must hold on both.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
from sqlalchemy import func, select

from gateway.users.models import Role, User
from tests.conftest import PASSWORD, Api

REGISTER_GQL = "mutation($i: RegisterInput!) { register(input: $i) { user { username } } }"


async def count_users(api: Api, **where: Any) -> int:
    async with api.gateway.db.read() as db:
        query = select(func.count()).select_from(User).filter_by(**where)
        return int(await db.scalar(query) or 0)


def outcome(response: httpx.Response) -> str:
    """One word per response: 'won', a 4xx status or GraphQL code, or 'BROKEN' for a 5xx."""
    if response.status_code >= 500:
        return "BROKEN"
    if response.url.path != "/graphql":
        return "won" if response.status_code == 201 else str(response.status_code)
    body = response.json()
    if body.get("errors"):
        return str(body["errors"][0]["extensions"]["code"])
    return "won"


async def test_twenty_concurrent_duplicate_registrations(api: Api) -> None:
    body = {"username": "twin", "email": "twin@example.com", "password": PASSWORD}
    rest = [api.client.post("/register", json=body) for _ in range(10)]
    gql_input = {"i": {"username": "twin", "email": "twin@example.com", "password": PASSWORD}}
    gql = [
        api.client.post("/graphql", json={"query": REGISTER_GQL, "variables": gql_input})
        for _ in range(10)
    ]
    responses = await asyncio.gather(*rest, *gql)
    outcomes = Counter(outcome(r) for r in responses)
    assert outcomes["won"] == 1, outcomes
    assert set(outcomes) <= {"won", "400", "CONFLICT"}, outcomes
    losers = [r for r in responses if outcome(r) == "400"]
    assert all(r.json() == {"detail": "Username or email already registered"} for r in losers)
    assert await count_users(api, username="twin") == 1


async def test_concurrent_registrations_sharing_an_email(api: Api) -> None:
    responses = await asyncio.gather(
        *[
            api.client.post(
                "/register",
                json={
                    "username": f"cousin{i}",
                    "email": "shared@example.com",
                    "password": PASSWORD,
                },
            )
            for i in range(20)
        ]
    )
    outcomes = Counter(outcome(r) for r in responses)
    assert outcomes == Counter({"won": 1, "400": 19}), outcomes
    assert await count_users(api, email="shared@example.com") == 1


async def test_two_admins_demote_each_other(api: Api) -> None:
    first = await api.user("alice", Role.ADMIN)
    second = await api.user("bruno", Role.ADMIN)
    for _ in range(5):  # several rounds: the interleaving differs from run to run
        demote_bruno = api.client.post(
            "/admin/users/bruno/role",
            json={"role": "student"},
            headers={"Authorization": f"Bearer {first}"},
        )
        demote_alice = api.gql(
            'mutation { setUserRole(input: {userId: "alice", role: STUDENT}) { user { role } } }',
            token=second,
        )
        rest, gql = await asyncio.gather(demote_bruno, demote_alice)
        assert rest.status_code < 500, rest.text
        gql_code = gql["errors"][0]["extensions"]["code"] if gql.get("errors") else None
        assert gql_code in (None, "BAD_USER_INPUT", "FORBIDDEN"), gql
        admins = await count_users(api, role=Role.ADMIN.value)
        assert admins == 1, (rest.text, gql)
        # exactly one of the two demotions won
        assert (rest.status_code == 200) != (gql_code is None), (rest.text, gql)
        # restore both admins for the next round
        async with api.gateway.db.transaction() as db:
            for user in await db.scalars(select(User)):
                user.role = Role.ADMIN.value


async def test_concurrent_role_changes_on_one_user(api: Api) -> None:
    admin = await api.user("root", Role.ADMIN)
    await api.user("target")
    roles = ["student", "professor", "admin"] * 5
    responses = await asyncio.gather(
        *[
            api.client.post(
                "/admin/users/target/role",
                json={"role": role},
                headers={"Authorization": f"Bearer {admin}"},
            )
            for role in roles
        ]
    )
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    assert await count_users(api, username="target") == 1


async def test_two_admins_delete_each_other(api: Api) -> None:
    first = await api.user("carla", Role.ADMIN)
    second = await api.user("dario", Role.ADMIN)
    responses = await asyncio.gather(
        api.client.delete("/admin/users/dario", headers={"Authorization": f"Bearer {first}"}),
        api.client.delete("/admin/users/carla", headers={"Authorization": f"Bearer {second}"}),
    )
    statuses = sorted(r.status_code for r in responses)
    # The loser is refused as the last admin (400) or, deleted already, no longer authenticated.
    assert statuses[0] == 204 and statuses[1] in (400, 401), [r.text for r in responses]
    assert await count_users(api, role=Role.ADMIN.value) == 1
