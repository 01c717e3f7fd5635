"""Count the gateway's database round trips per benchmarked operation (deterministic, unlike
throughput on a shared machine).

    python -m bench.roundtrips            # after python -m bench.seed (or a bench.run)

Runs the real app in-process (httpx ASGI transport, lifespan started) against the seeded
database and lists, per operation, the pool checkouts (each one costs a pre-ping round trip
while pool_pre_ping is on) and every statement sent, BEGIN/COMMIT/ROLLBACK included.
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


async def count(dsn: str, tokens: dict[str, list[str]]) -> None:
    import httpx
    from asgi_lifespan import LifespanManager
    from sqlalchemy import event

    from gateway.app import create_app

    app = create_app()
    engine = app.state.gateway.db.engine.sync_engine
    sent: list[str] = []
    checkouts = [0]

    def statement(_conn: Any, _cursor: Any, text: str, *_: Any) -> None:
        sent.append(" ".join(text.split())[:70])

    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "begin", lambda *_: sent.append("BEGIN"))
    event.listen(engine, "commit", lambda *_: sent.append("COMMIT"))
    event.listen(engine, "rollback", lambda *_: sent.append("ROLLBACK"))
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
                await client.request(method, path, json=body, headers=headers)  # warm caches
                sent.clear()
                checkouts[0] = 0
                response = await client.request(method, path, json=body, headers=headers)
                queries = sum(s not in ("BEGIN", "COMMIT", "ROLLBACK") for s in sent)
                print(
                    f"{label}: HTTP {response.status_code}, {checkouts[0]} checkout(s), "
                    f"{queries} queries, {len(sent)} statements with transaction control"
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
