"""Seed a dedicated PostgreSQL database for the benchmarks, with set-based SQL.

    python -m bench.seed [--dsn postgresql://postgres@127.0.0.1:5432/gw_bench_compare] [--jit]

Drops and recreates the database, applies the gateway's Alembic migrations, then inserts:
1 admin, 50 professors, 50 subjects (SUBJ01..SUBJ50, SUBJ0i taught by prof0i), 10,000 students,
30,000 enrollments (every student is in SUBJ01, plus two other subjects), 20,000 chat sessions
with 10 messages each (200,000 messages) and 200,000 quiz attempts (half of them in SUBJ01);
then the analytics aggregates are computed from those rows (gateway.analytics.check.repair,
set-based), as migration 0004 does for an existing database. `resize_big_subject` gives SUBJ01
another number of quiz attempts (the data-size series of bench/run.py --sizes).
The database gets `jit = off` (unless --jit): PostgreSQL's JIT compiles the analytics statement
on every execution and that costs more than the statement itself (210 ms instead of 72 ms here).
Every contender runs against the same database, so the setting is the same for all of them.
Everything is deterministic (ids are md5-derived UUIDs) so runs compare. Every account's
password is `bench-password` (one real Argon2id hash, computed once and reused).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from sqlalchemy import text

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/gw_bench_compare"
PASSWORD = "bench-password"
STUDENTS = 10_000
PROFESSORS = 50
SUBJECTS = 50
BIG_SUBJECT = "SUBJ01"

# Deterministic ids: the same user gets the same UUID in every run.
UID = "md5('{kind}' || {n})::uuid"

STEPS: list[tuple[str, str]] = [
    (
        "users: admin + professors",
        f"""
        INSERT INTO users (id, username, email, full_name, hashed_password, role, theme,
                           notifications, created_at, updated_at)
        SELECT md5('admin')::uuid, 'admin', 'admin@bench.example', 'Bench Admin', $1, 'ADMIN',
               'light', true, now() - interval '400 days', now()
        UNION ALL
        SELECT {UID.format(kind="prof", n="n")}, 'prof' || lpad(n::text, 2, '0'),
               'prof' || lpad(n::text, 2, '0') || '@bench.example', 'Professor ' || n, $1,
               'PROFESSOR', 'dark', true, now() - interval '300 days', now()
        FROM generate_series(1, {PROFESSORS}) AS n
        """,
    ),
    (
        "users: 10,000 students",
        f"""
        INSERT INTO users (id, username, email, full_name, hashed_password, role, theme,
                           notifications, created_at, updated_at)
        SELECT {UID.format(kind="student", n="n")}, 'student' || lpad(n::text, 5, '0'),
               'student' || lpad(n::text, 5, '0') || '@bench.example', 'Student Number ' || n,
               $1, 'STUDENT', (ARRAY['light', 'dark', 'system'])[1 + n % 3], n % 4 <> 0,
               now() - (n % 200) * interval '1 day', now()
        FROM generate_series(1, {STUDENTS}) AS n
        """,
    ),
    (
        "subjects",
        f"""
        INSERT INTO subjects (id, name, description, guide, professor_id, created_at, updated_at)
        SELECT 'SUBJ' || lpad(n::text, 2, '0'), 'Subject number ' || n,
               'An introduction to topic ' || n || ' for the benchmarks.',
               repeat('Study guide paragraph. ', 40), {UID.format(kind="prof", n="n")},
               now() - interval '200 days', now()
        FROM generate_series(1, {SUBJECTS}) AS n
        """,
    ),
    # Every student is in SUBJ01 and in two of SUBJ02..SUBJ50 (other(n, k) below).
    (
        "enrollments",
        f"""
        CREATE TEMP TABLE bench_students AS
        SELECT n, {UID.format(kind="student", n="n")} AS id,
               'SUBJ' || lpad((2 + n % 49)::text, 2, '0') AS other0,
               'SUBJ' || lpad((2 + (n + 24) % 49)::text, 2, '0') AS other1
        FROM generate_series(1, {STUDENTS}) AS n;
        INSERT INTO enrollments (student_id, subject_id, created_at)
        SELECT id, '{BIG_SUBJECT}', now() - (n % 90) * interval '1 day' FROM bench_students
        UNION ALL SELECT id, other0, now() - (n % 80) * interval '1 day' FROM bench_students
        UNION ALL SELECT id, other1, now() - (n % 70) * interval '1 day' FROM bench_students
        """,
    ),
    # Two sessions per student (SUBJ01 and their first other subject), last active over the
    # past 30 days: about a quarter fall in the 7-day "active" window.
    (
        "chat sessions",
        """
        INSERT INTO chat_sessions (id, user_id, subject_id, title, created_at, last_active)
        SELECT 'sess-' || s.n || '-' || k, s.id,
               CASE WHEN k = 0 THEN 'SUBJ01' ELSE s.other0 END, 'Session ' || k,
               now() - interval '60 days',
               now() - ((s.n * 7 + k * 3) % 30) * interval '1 day'
                     - (s.n % 24) * interval '1 hour'
        FROM bench_students AS s CROSS JOIN generate_series(0, 1) AS k
        """,
    ),
    (
        "messages: 200,000",
        """
        INSERT INTO messages (session_id, role, content, status, created_at)
        SELECT 'sess-' || s.n || '-' || k,
               CASE WHEN m % 2 = 0 THEN 'user' ELSE 'assistant' END,
               CASE WHEN m % 2 = 0 THEN 'Question ' || m || ' about the topic, please explain.'
                    ELSE 'An answer of reasonable length for message ' || m || '. '
                         || repeat('Explanation. ', 8) END,
               CASE WHEN m % 2 = 0 THEN 'answered' ELSE 'ok' END,
               now() - interval '60 days' + m * interval '1 minute'
        FROM bench_students AS s CROSS JOIN generate_series(0, 1) AS k
             CROSS JOIN generate_series(0, 9) AS m
        """,
    ),
    # Half of the attempts in SUBJ01 (10 per student), half in the student's first other subject.
    (
        "quiz attempts: 200,000",
        f"""
        INSERT INTO quiz_attempts (user_id, subject_id, session_id, correct, total, percentage,
                                   created_at)
        SELECT s.id, CASE WHEN a % 2 = 0 THEN 'SUBJ01' ELSE s.other0 END,
               'sess-' || s.n || '-' || (a % 2), (s.n + a) % 11, 10, ((s.n + a) % 11) * 10.0,
               now() - (((s.n % 5) * 9 + a) % 60) * interval '1 day' - (a % 24) * interval '1 hour'
        FROM bench_students AS s CROSS JOIN generate_series(0, {200_000 // STUDENTS - 1}) AS a
        """,
    ),
]


def with_database(dsn: str, database: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/" + database))


def sqlalchemy_url(dsn: str) -> str:
    return "postgresql+asyncpg://" + dsn.split("://", 1)[1]


def argon2_hash() -> str:
    from gateway.auth.passwords import Passwords
    from gateway.config import Settings

    return asyncio.run(Passwords(Settings()).hash(PASSWORD))


async def recreate(dsn: str, jit: bool) -> None:
    name = urlsplit(dsn).path.lstrip("/")
    if not name.replace("_", "").isalnum():
        raise SystemExit(f"refusing odd database name {name!r}")
    admin = await asyncpg.connect(with_database(dsn, "postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
        if not jit:
            await admin.execute(f'ALTER DATABASE "{name}" SET jit = off')
    finally:
        await admin.close()


async def fill(dsn: str, hashed: str, timings: list[tuple[str, float]]) -> dict[str, int]:
    conn = await asyncpg.connect(dsn)
    try:
        for label, sql in STEPS:
            t0 = time.perf_counter()
            async with conn.transaction():
                statements = [s for s in sql.split(";") if s.strip()]
                for statement in statements:
                    if "$1" in statement:
                        await conn.execute(statement, hashed)
                    else:
                        await conn.execute(statement)
            timings.append((label, time.perf_counter() - t0))
        t0 = time.perf_counter()
        await conn.execute("ANALYZE")
        timings.append(("ANALYZE", time.perf_counter() - t0))
        counts = {}
        for table in (
            "users",
            "subjects",
            "enrollments",
            "chat_sessions",
            "messages",
            "quiz_attempts",
        ):
            counts[table] = await conn.fetchval(f"SELECT count(*) FROM {table}")
        return counts
    finally:
        await conn.close()


async def rebuild_aggregates(dsn: str) -> None:
    """The maintained aggregates from the rows inserted above (they bypass the services)."""
    from gateway.analytics import check
    from gateway.config import Settings
    from gateway.db import Database

    database = Database(Settings(database_url=sqlalchemy_url(dsn)))
    try:
        async with database.transaction() as db:
            await check.repair(db)
        async with database.transaction() as db:
            await db.execute(text("ANALYZE subject_stats, subject_student_stats"))
    finally:
        await database.dispose()


def _more_attempts(start: int, stop: int) -> str:
    """Quiz attempts number start..stop-1 of SUBJ01, spread over the 10,000 students (the
    same row for the same number in every run)."""
    student = f"(1 + i % {STUDENTS})"
    return f"""
        INSERT INTO quiz_attempts (user_id, subject_id, session_id, correct, total, percentage,
                                   created_at)
        SELECT md5('student' || {student})::uuid, '{BIG_SUBJECT}', 'sess-' || {student} || '-0',
               i % 11, 10, (i % 11) * 10.0,
               now() - ((i / {STUDENTS}) % 60) * interval '1 day' - (i % 24) * interval '1 hour'
        FROM generate_series({start}, {stop - 1}) AS i
        """


async def _resize(dsn: str, attempts: int) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        have = await conn.fetchval(
            "SELECT count(*) FROM quiz_attempts WHERE subject_id = $1", BIG_SUBJECT
        )
        async with conn.transaction():
            if have > attempts:
                await conn.execute("DELETE FROM quiz_attempts WHERE subject_id = $1", BIG_SUBJECT)
                have = 0
            if attempts > have:
                await conn.execute(_more_attempts(have, attempts))
        await conn.execute("ANALYZE quiz_attempts")
    finally:
        await conn.close()
    await rebuild_aggregates(dsn)


def resize_big_subject(dsn: str, attempts: int) -> float:
    """Give SUBJ01 exactly `attempts` quiz attempts (set-based) and recompute the aggregates;
    returns the seconds it took."""
    t0 = time.perf_counter()
    asyncio.run(_resize(dsn, attempts))
    return time.perf_counter() - t0


def seed(dsn: str = DEFAULT_DSN, *, jit: bool = False) -> None:
    from gateway import migrate
    from gateway.config import Settings

    started = time.perf_counter()
    timings: list[tuple[str, float]] = []

    t0 = time.perf_counter()
    asyncio.run(recreate(dsn, jit))
    timings.append(("drop + create database", time.perf_counter() - t0))

    t0 = time.perf_counter()
    asyncio.run(migrate.upgrade(Settings(database_url=sqlalchemy_url(dsn))))
    timings.append(("alembic upgrade head", time.perf_counter() - t0))

    t0 = time.perf_counter()
    hashed = argon2_hash()
    timings.append(("one Argon2id hash", time.perf_counter() - t0))

    counts = asyncio.run(fill(dsn, hashed, timings))
    t0 = time.perf_counter()
    asyncio.run(rebuild_aggregates(dsn))
    timings.append(("aggregates (check.repair)", time.perf_counter() - t0))
    for label, seconds in timings:
        print(f"  {label:<28} {seconds:6.2f} s")
    print("  rows: " + ", ".join(f"{t} {n:,}" for t, n in counts.items()))
    print(f"seeded {dsn} in {time.perf_counter() - started:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", default=DEFAULT_DSN, help="database to (re)create")
    parser.add_argument("--jit", action="store_true", help="leave PostgreSQL's JIT on")
    args = parser.parse_args()
    seed(args.dsn, jit=args.jit)


if __name__ == "__main__":
    main()
