"""Waiting for a database connection: first come, first served, bounded, and a clear 503.

Each app here has two connection slots; the test holds both through the gateway's own
Database, so requests really queue in the gateway, over HTTP, on both backends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager

import httpx

from gateway.db import Admission
from tests.conftest import Api
from tests.ops.conftest import AppFactory

ME_GQL = "{ me { username } }"


@asynccontextmanager
async def holding_every_slot(api: Api) -> AsyncIterator[AsyncExitStack]:
    """Enter Database.read() once per slot: from now on every request must wait."""
    async with AsyncExitStack() as stack:
        for _ in range(2):
            await stack.enter_async_context(api.gateway.db.read())
        yield stack


def waiting(admission: Admission, n: int) -> Callable[[], bool]:
    return lambda: admission.waiting == n


async def until(condition: Callable[[], bool]) -> None:
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition not reached within 5 s")


async def test_waiting_requests_are_served_in_arrival_order(make_api: AppFactory) -> None:
    async with make_api(db_pool_size=2, chat_db_slots=1, db_pool_timeout_seconds=10) as api:
        headers = {"Authorization": f"Bearer {await api.user('ada')}"}
        admission = api.gateway.db.admission
        finished: list[str] = []

        async def call(name: str) -> httpx.Response:
            response = await api.client.get("/users/me", headers=headers)
            finished.append(name)
            return response

        async with api.gateway.db.read():  # one slot stays busy: requests run one by one
            async with AsyncExitStack() as second:
                await second.enter_async_context(api.gateway.db.read())
                early = []
                for i in range(6):
                    early.append(asyncio.create_task(call(f"early-{i}")))
                    await until(waiting(admission, i + 1))
                metrics = (await api.client.get("/metrics")).text
                assert "gateway_db_waiting_requests 6.0" in metrics
            # The second slot is free now; newcomers arrive while the early ones still wait.
            late = [asyncio.create_task(call(f"late-{i}")) for i in range(6)]
            responses = await asyncio.gather(*early, *late)

        assert [r.status_code for r in responses] == [200] * 12
        assert finished[:6] == [f"early-{i}" for i in range(6)], finished
        assert admission.waiting == 0


async def test_no_connection_within_the_timeout_is_a_clear_503(make_api: AppFactory) -> None:
    async with make_api(db_pool_size=2, chat_db_slots=1, db_pool_timeout_seconds=0.2) as api:
        token = await api.user("ada")
        headers = {"Authorization": f"Bearer {token}"}
        async with holding_every_slot(api):
            rest = await api.client.get("/users/me", headers=headers)
            gql = await api.gql(ME_GQL, token=token)
            assert api.gateway.db.admission.waiting == 0  # a timed-out waiter leaves the line

        assert rest.status_code == 503
        assert rest.json() == {"detail": "Database busy, try again"}
        assert gql["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
        # The slots are back: the same requests succeed.
        assert (await api.client.get("/users/me", headers=headers)).status_code == 200
        assert (await api.gql(ME_GQL, token=token))["data"]["me"] == {"username": "ada"}
