"""Count the gateway's database round trips per benchmarked operation (deterministic, unlike
throughput on a shared machine).

    python -m bench.roundtrips            # after python -m bench.seed (or a bench.run)

Runs the real app in-process (httpx ASGI transport, lifespan started) against the seeded
database and lists, per operation, the pool checkouts and every asyncpg call that goes to the
server and back (pre-ping, BEGIN/COMMIT/ROLLBACK, prepared-statement executions), in order.
SQLAlchemy's begin/commit events would over-count: on an autocommit connection they send
nothing.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from bench import seed as seeding
from bench.run import (
    BIG,
    GQL_ANALYTICS,
    GQL_PROFILE,
    GQL_SUBJECTS,
    REST_ANALYTICS,
    REST_PROFILE,
    REST_SUBJECTS,
    SECRET,
    issue_tokens,
)


def wire(sent: list[str]) -> None:
    """Record every asyncpg call that waits for the server (one round trip each)."""
    import asyncpg.connection
    import asyncpg.prepared_stmt

    def spy(cls: Any, name: str, label: Any) -> None:
        original = getattr(cls, name)

        async def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            sent.append(" ".join(str(label(self, args)).split())[:70])
            return await original(self, *args, **kwargs)

        setattr(cls, name, call)

    def text(_self: Any, args: Any) -> str:
        return "PING (;)" if args and args[0] == ";" else str(args[0])

    for name in ("execute", "fetch", "fetchrow", "fetchval"):
        spy(asyncpg.connection.Connection, name, text)
    spy(asyncpg.connection.Connection, "prepare", lambda _s, a: f"PREPARE {a[0]}")
    for name in ("fetch", "fetchrow", "fetchval", "executemany"):
        spy(asyncpg.prepared_stmt.PreparedStatement, name, lambda s, _a: s.get_query())


async def count(dsn: str, tokens: dict[str, list[str]]) -> None:
    import httpx
    from asgi_lifespan import LifespanManager
    from sqlalchemy import event

    from gateway.app import create_app

    app = create_app()
    engine = app.state.gateway.db.engine.sync_engine
    sent: list[str] = []
    checkouts = [0]
    wire(sent)
    event.listen(engine.pool, "checkout", lambda *_: checkouts.__setitem__(0, checkouts[0] + 1))
    student = {"Authorization": f"Bearer {tokens['student'][0]}"}
    professor = {"Authorization": f"Bearer {tokens['professor'][0]}"}
    cases = [
        ("REST profile", "GET", REST_PROFILE, None, student),
        ("GraphQL profile", "POST", "/graphql", {"query": GQL_PROFILE}, student),
        ("REST subjects page", "GET", REST_SUBJECTS, None, student),
        ("GraphQL subjects page", "POST", "/graphql", {"query": GQL_SUBJECTS}, student),
        ("REST analytics", "GET", REST_ANALYTICS, None, professor),
        (
            "GraphQL analytics",
            "POST",
            "/graphql",
            {"query": GQL_ANALYTICS, "variables": {"id": BIG}},
            professor,
        ),
    ]
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for label, method, path, body, headers in cases:
                for _ in range(3):  # warm caches (statement caches are per connection)
                    await client.request(method, path, json=body, headers=headers)
                sent.clear()
                checkouts[0] = 0
                response = await client.request(method, path, json=body, headers=headers)
                queries = sum(s.startswith("SELECT") or s.startswith("WITH") for s in sent)
                print(
                    f"{label}: HTTP {response.status_code}, {checkouts[0]} checkout(s), "
                    f"{queries} queries, {len(sent)} round trips (pings and BEGIN/COMMIT included)"
                )
                for s in sent:
                    print(f"    {s}")


def main() -> None:
    dsn = os.environ.get("BENCH_DSN", seeding.DEFAULT_DSN)
    os.environ.update(
        GATEWAY_ENV="production",
        GATEWAY_JWT_SECRET=SECRET,
        GATEWAY_DATABASE_URL=seeding.sqlalchemy_url(dsn),
        GATEWAY_AUTO_MIGRATE="false",
    )
    tokens = issue_tokens(dsn)
    asyncio.run(count(dsn, tokens))


if __name__ == "__main__":
    main()
