"""Analytics benchmark: one subject with 10,000 enrolled students and 200,000 quiz attempts on
PostgreSQL, the analytics request measured through REST and GraphQL against a real uvicorn.

    python bench/analytics/run.py [--requests 30] [--explain] [--keep]

Creates (and afterwards drops, unless --keep) the database gw_bench on the server given by
GATEWAY_BENCH_PG (default postgresql://postgres@127.0.0.1:5432/postgres). Seeding is plain SQL
(generate_series), not ORM loops. Not part of the pytest suite."""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from hashlib import md5
from pathlib import Path

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from gateway import migrate  # noqa: E402
from gateway.auth.tokens import Tokens  # noqa: E402
from gateway.config import Settings  # noqa: E402

DB = "gw_bench"
SECRET = "bench-secret-" + "y" * 40
SUBJECT = "BENCH01"
STUDENTS = 10_000
ATTEMPTS = 200_000
SESSIONS = 20_000
OTHER_SUBJECTS = 49

SEED = f"""
INSERT INTO users (id, username, email, full_name, hashed_password, role, theme, notifications,
                   created_at, updated_at)
SELECT md5('student' || i)::uuid, 'student' || lpad(i::text, 5, '0'),
       'student' || i || '@example.com', 'Student ' || i, 'x', 'STUDENT', 'light', true,
       now(), now()
FROM generate_series(1, {STUDENTS}) AS i;

INSERT INTO users (id, username, email, full_name, hashed_password, role, theme, notifications,
                   created_at, updated_at)
VALUES (md5('prof')::uuid, 'prof_bench', 'prof@example.com', 'Prof Bench', 'x', 'PROFESSOR',
        'light', true, now(), now());

INSERT INTO subjects (id, name, description, guide, professor_id, created_at, updated_at)
SELECT CASE WHEN i = 0 THEN '{SUBJECT}' ELSE 'SUBJ' || lpad(i::text, 3, '0') END,
       'Subject ' || i, '', '', md5('prof')::uuid, now(), now()
FROM generate_series(0, {OTHER_SUBJECTS}) AS i;

INSERT INTO enrollments (student_id, subject_id, created_at)
SELECT md5('student' || i)::uuid, '{SUBJECT}', now() FROM generate_series(1, {STUDENTS}) AS i;

-- about 20,000 more enrollments spread over the other subjects
INSERT INTO enrollments (student_id, subject_id, created_at)
SELECT DISTINCT md5('student' || (1 + (random() * ({STUDENTS} - 1))::int))::uuid,
       'SUBJ' || lpad((1 + (random() * ({OTHER_SUBJECTS} - 1))::int)::text, 3, '0'), now()
FROM generate_series(1, 20000)
ON CONFLICT DO NOTHING;

INSERT INTO chat_sessions (id, user_id, subject_id, title, created_at, last_active)
SELECT 'bench-' || i, md5('student' || (1 + (random() * ({STUDENTS} - 1))::int))::uuid,
       '{SUBJECT}', '', now() - interval '90 days',
       now() - random() * interval '60 days'
FROM generate_series(1, {SESSIONS}) AS i;

INSERT INTO quiz_attempts (user_id, subject_id, session_id, correct, total, percentage, created_at)
SELECT md5('student' || (1 + (random() * ({STUDENTS} - 1))::int))::uuid, '{SUBJECT}', NULL,
       c, 10, c * 10.0, now() - random() * interval '60 days'
FROM (SELECT i, (random() * 10)::int AS c FROM generate_series(1, {ATTEMPTS}) AS i) AS g;
"""

GRAPHQL = """query($id: ID!, $first: Int!) { subject(id: $id) { analytics {
  totalStudents activeStudents averageTestScore
  studentProgress(first: $first) { nodes { username testCount averageScore lastActivity } }
} } }"""


def server_dsn() -> str:
    return os.environ.get("GATEWAY_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def db_dsn() -> str:
    base = server_dsn().rsplit("/", 1)[0]
    return f"{base}/{DB}"


async def create_and_seed() -> None:
    admin = await asyncpg.connect(server_dsn())
    await admin.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
    await admin.execute(f"CREATE DATABASE {DB}")
    await admin.close()
    settings = Settings(database_url=db_dsn().replace("postgresql://", "postgresql+asyncpg://"))
    await migrate.upgrade(settings)
    conn = await asyncpg.connect(db_dsn())
    started = time.perf_counter()
    await conn.execute(SEED)
    await conn.execute("VACUUM ANALYZE")
    counts = await conn.fetchrow(
        "SELECT (SELECT count(*) FROM enrollments WHERE subject_id = $1) AS students, "
        "(SELECT count(*) FROM quiz_attempts WHERE subject_id = $1) AS attempts",
        SUBJECT,
    )
    await conn.close()
    print(
        f"seeded {counts['students']} students and {counts['attempts']} attempts in "
        f"{SUBJECT} in {time.perf_counter() - started:.1f} s"
    )


async def drop() -> None:
    admin = await asyncpg.connect(server_dsn())
    await admin.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
    await admin.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "GATEWAY_DATABASE_URL": db_dsn().replace("postgresql://", "postgresql+asyncpg://"),
        "GATEWAY_JWT_SECRET": SECRET,
        "GATEWAY_AUTO_MIGRATE": "false",
        "GATEWAY_LOG_LEVEL": "WARNING",
        # The benchmark measures the query, not the limiter: one token sends every request.
        "GATEWAY_RATE_LIMIT_DEFAULT": "100000000/minute",
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "gateway.app:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=ROOT,
    )


PROFESSOR_ID = uuid.UUID(md5(b"prof").hexdigest())  # the seed's md5('prof')::uuid


def professor_token() -> str:
    settings = Settings(jwt_secret=SECRET)
    tokens = Tokens(settings)
    return tokens.issue(user_id=PROFESSOR_ID, username="prof_bench", role="PROFESSOR", subjects=[])


async def measure(name: str, call: Callable[[], Awaitable[None]], n: int) -> dict[str, float]:
    for _ in range(3):  # warm-up: connections, caches, prepared statements
        await call()
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    p95 = samples[min(len(samples) - 1, round(0.95 * len(samples)) - 1)]
    result = {"median": statistics.median(samples), "p95": p95, "min": samples[0]}
    print(
        f"{name:<38} median {result['median']:7.1f} ms   p95 {p95:7.1f} ms"
        f"   min {samples[0]:6.1f} ms"
    )
    return result


async def explain() -> None:
    """EXPLAIN ANALYZE of the statements the analytics request runs (captured from the app)."""
    from sqlalchemy import event

    from gateway.analytics import service
    from gateway.auth.actor import Actor
    from gateway.db import Database
    from gateway.users.models import Role

    settings = Settings(database_url=db_dsn().replace("postgresql://", "postgresql+asyncpg://"))
    database = Database(settings)
    captured: list[tuple[str, object]] = []

    def record(_c: object, _cur: object, statement: str, parameters: object, *_: object) -> None:
        captured.append((statement, parameters))

    event.listen(database.engine.sync_engine, "before_cursor_execute", record)
    actor = Actor(id=PROFESSOR_ID, username="prof_bench", role=Role.PROFESSOR)
    async with database.read() as db:
        await service.subject_analytics(db, actor, SUBJECT, active_days=7, limit=100)
        for statement, parameters in captured[1:]:
            result = await db.connection()
            raw = await result.get_raw_connection()
            plan = await raw.driver_connection.fetch(  # type: ignore[union-attr]
                "EXPLAIN (ANALYZE, BUFFERS) " + statement,
                *parameters,  # type: ignore[misc]
            )
            print("\n".join(r[0] for r in plan))
            print("-" * 80)
    await database.dispose()


async def measure_service(n: int) -> None:
    """The same work without HTTP: the service call on its own session (the database floor)."""
    from gateway.analytics import service
    from gateway.auth.actor import Actor
    from gateway.db import Database
    from gateway.users.models import Role

    settings = Settings(database_url=db_dsn().replace("postgresql://", "postgresql+asyncpg://"))
    database = Database(settings)
    actor = Actor(id=PROFESSOR_ID, username="prof_bench", role=Role.PROFESSOR)

    async def call() -> None:
        async with database.read() as db:
            await service.subject_analytics(db, actor, SUBJECT, active_days=7, limit=100)

    await measure("service call, no HTTP (100 students)", call, n)
    await database.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep gw_bench afterwards")
    parser.add_argument("--no-seed", action="store_true", help="reuse a kept gw_bench")
    args = parser.parse_args()
    if not args.no_seed:
        await create_and_seed()
    if args.explain:
        await explain()
    port = free_port()
    server = start_server(port)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            for _ in range(100):
                try:
                    if (await client.get("/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            headers = {"Authorization": f"Bearer {professor_token()}"}
            url = f"/professor/subjects/{SUBJECT}/analytics"

            async def rest(limit: int = 100) -> None:
                r = await client.get(url, params={"limit": limit}, headers=headers)
                assert r.status_code == 200, r.text
                assert r.json()["total_students"] == STUDENTS

            async def graphql(first: int = 100) -> None:
                r = await client.post(
                    "/graphql",
                    json={"query": GRAPHQL, "variables": {"id": SUBJECT, "first": first}},
                    headers=headers,
                )
                body = r.json()
                assert not body.get("errors"), body
                assert body["data"]["subject"]["analytics"]["totalStudents"] == STUDENTS

            print(f"{args.requests} sequential requests each, after 3 warm-ups:")
            await measure_service(args.requests)
            await measure("REST analytics (100 students)", rest, args.requests)
            await measure("GraphQL analytics (100 students)", graphql, args.requests)
            await measure("REST analytics (1000 students)", lambda: rest(1000), args.requests)
            await measure("GraphQL analytics (1000 students)", lambda: graphql(1000), args.requests)
    finally:
        server.terminate()
        server.wait(timeout=10)
        if not args.keep:
            await drop()


if __name__ == "__main__":
    asyncio.run(main())
