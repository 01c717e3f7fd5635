"""CPU per request for the profile (`me`), the subjects page and the sessions list on both faces,
in-process (httpx ASGI transport, client
CPU included), on a scratch PostgreSQL database: an A/B between two checkouts without wrk.

    taskset -c 1 python -m bench.inprocess_profile            # this checkout
    cd ../other-checkout && PYTHONPATH=. taskset -c 1 python -m bench.inprocess_profile

Run the two checkouts alternately, several times, pinned to one core: single runs on a shared
2-core machine vary by 10-20 %.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Awaitable, Callable

import asyncpg
import httpx
from asgi_lifespan import LifespanManager

from gateway import migrate
from gateway.app import create_app
from gateway.config import Settings
from gateway.seed import DEMO_PASSWORD, seed

ADMIN_DSN = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
N = int(os.environ.get("N", "2500"))
ME = "{ me { username email fullName role preferences { theme notifications } } }"
SUBJECTS = "{ subjects(first: 20) { nodes { id name professor { fullName } studentCount } } }"
SESSIONS = "{ sessions(first: 20) { nodes { id title messageCount lastActive } } }"


async def measure(label: str, call: Callable[[], Awaitable[None]]) -> None:
    for _ in range(300):
        await call()
    best = []
    for _ in range(3):
        started = time.process_time()
        for _ in range(N):
            await call()
        best.append((time.process_time() - started) / N * 1000)
    print(f"{label}: {min(best):.3f} ms CPU/request (best of 3 x {N})", flush=True)


async def main() -> None:
    name = f"gw_bench_ab_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(ADMIN_DSN)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    try:
        base = ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
        settings = Settings(
            env="test",
            database_url=f"{base}/{name}",
            jwt_secret="bench-secret-Qm7vR2xK9pL4wT8nB3cJ6hF1dZ5gY0sAeU",
            argon2_time_cost=1,
            argon2_memory_kib=64,
            rate_limit_enabled=False,
            auto_migrate=False,
        )
        await migrate.upgrade(settings)
        app = create_app(settings)
        async with LifespanManager(app):
            gw = app.state.gateway
            await seed(gw.db, gw.passwords)  # subjects, enrollments, sessions and messages
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                form = {"username": "sofia", "password": DEMO_PASSWORD}
                token = await client.post("/token", data=form)
                headers = {"Authorization": f"Bearer {token.json()['access_token']}"}

                def rest(path: str) -> Callable[[], Awaitable[None]]:
                    async def call() -> None:
                        assert (await client.get(path, headers=headers)).status_code == 200

                    return call

                def graphql(query: str) -> Callable[[], Awaitable[None]]:
                    async def call() -> None:
                        r = await client.post("/graphql", json={"query": query}, headers=headers)
                        assert r.status_code == 200 and "errors" not in r.json(), r.text

                    return call

                ops = {
                    "REST profile": rest("/users/me"),
                    "GraphQL profile": graphql(ME),
                    "REST subjects page": rest("/subjects?page=1&limit=20"),
                    "GraphQL subjects page": graphql(SUBJECTS),
                    "REST sessions list": rest("/sessions"),
                    "GraphQL sessions list": graphql(SESSIONS),
                }
                only = os.environ.get("OPS")
                for label, call in ops.items():
                    if only is None or any(part in label for part in only.split(",")):
                        await measure(label, call)
    finally:
        conn = await asyncpg.connect(ADMIN_DSN)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


if __name__ == "__main__":
    asyncio.run(main())
