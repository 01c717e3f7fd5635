"""Migration 0004 on a seeded database of the engine under test: the aggregates are created and
backfilled with exactly what a recomputation from the base tables gives, and the revision goes
down (the tables go) and up again."""

from __future__ import annotations

from sqlalchemy import text

from gateway import migrate
from gateway.analytics import check
from gateway.db import Database
from tests.conftest import make_settings
from tests.migrations.test_message_ids import downgrade, fresh_url, run  # noqa: F401

ANA = "0b5c4a7e4b8f4f1a9d8e6c2b1a0f9e8d"
BOB = "1b5c4a7e4b8f4f1a9d8e6c2b1a0f9e8d"


def user(uid: str, name: str) -> str:
    return (
        "INSERT INTO users (id, username, email, full_name, hashed_password, role, theme,"
        f" notifications, created_at, updated_at) VALUES ('{uid}', '{name}',"
        f" '{name}@example.com', '', 'x', 'STUDENT', 'system', true,"
        " '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
    )


def subject(code: str) -> str:
    return (
        "INSERT INTO subjects (id, name, description, guide, created_at, updated_at)"
        f" VALUES ('{code}', '{code}', '', '', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
    )


def attempt(uid: str, code: str, correct: int, total: int, when: str) -> str:
    percentage = round(correct * 100 / total, 2)
    return (
        "INSERT INTO quiz_attempts (user_id, subject_id, correct, total, percentage, created_at)"
        f" VALUES ('{uid}', '{code}', {correct}, {total}, {percentage}, '{when}')"
    )


def session(sid: str, uid: str, code: str, when: str) -> str:
    return (
        "INSERT INTO chat_sessions (id, user_id, subject_id, title, created_at, last_active)"
        f" VALUES ('{sid}', '{uid}', '{code}', '', '{when}', '{when}')"
    )


SEED = [
    user(ANA, "ana"),
    user(BOB, "bob"),
    subject("INF001"),
    subject("MAT002"),
    subject("EMPTY1"),
    f"INSERT INTO enrollments (student_id, subject_id, created_at) VALUES ('{ANA}', 'INF001',"
    " '2026-01-01 00:00:00')",
    f"INSERT INTO enrollments (student_id, subject_id, created_at) VALUES ('{BOB}', 'INF001',"
    " '2026-01-01 00:00:00')",
    attempt(ANA, "INF001", 1, 3, "2026-01-02 10:00:00.000000"),
    attempt(ANA, "INF001", 2, 3, "2026-01-03 10:00:00.000000"),
    attempt(BOB, "MAT002", 4, 5, "2026-01-04 10:00:00.000000"),  # not enrolled there
    session("s1", ANA, "INF001", "2026-01-05 10:00:00.000000"),
    session("s2", ANA, "INF001", "2026-01-01 10:00:00.000000"),
    session("s3", BOB, "MAT002", "2026-01-02 09:00:00.000000"),
]


async def test_0004_backfills_exactly_and_goes_down_and_up(fresh_url: str) -> None:  # noqa: F811
    settings = make_settings(fresh_url)
    await migrate.upgrade(settings, "0003_message_ids")
    await run(fresh_url, SEED)
    await migrate.upgrade(settings)

    [subjects, students] = await run(
        fresh_url,
        [
            "SELECT subject_id, enrolled_count, attempt_count, percentage_hundredths"
            " FROM subject_stats ORDER BY subject_id",
            "SELECT subject_id, username, enrolled, attempt_count, percentage_hundredths"
            " FROM subject_student_stats ORDER BY subject_id, username",
        ],
    )
    assert subjects == [("INF001", 2, 2, 3333 + 6667), ("MAT002", 0, 1, 8000)]
    assert [(s, u, bool(e), n, p) for s, u, e, n, p in students] == [
        ("INF001", "ana", True, 2, 10000),
        ("INF001", "bob", True, 0, 0),
        ("MAT002", "bob", False, 1, 8000),
    ]
    database = Database(settings)
    try:
        async with database.transaction() as db:
            assert await check.differences(db) == []
            # A sanity check of the check: one figure changed is one difference.
            await db.execute(
                text("UPDATE subject_stats SET attempt_count = 7 WHERE subject_id = 'INF001'")
            )
            found = await check.differences(db)
            assert [(d.table, d.key, d.column, d.stored, d.expected) for d in found] == [
                ("subject_stats", ("INF001",), "attempt_count", 7, 2)
            ]
            await db.rollback()
        async with database.read() as db:
            rows = (
                await db.execute(
                    text(
                        "SELECT last_quiz_at, last_chat_at, last_activity_at"
                        " FROM subject_student_stats WHERE username = 'ana'"
                    )
                )
            ).one()
            assert [str(v)[:19] for v in rows] == [
                "2026-01-03 10:00:00",
                "2026-01-05 10:00:00",
                "2026-01-05 10:00:00",
            ]
    finally:
        await database.dispose()

    await downgrade(fresh_url, "0003_message_ids")
    [[(count,)]] = await run(fresh_url, ["SELECT count(*) FROM quiz_attempts"])
    assert count == 3
    await migrate.upgrade(settings)
    [[(total,)]] = await run(fresh_url, ["SELECT sum(attempt_count) FROM subject_stats"])
    assert total == 3
