"""Migration 0003 on a fresh database of the engine under test: existing messages survive, the
SQLite table becomes AUTOINCREMENT (a deleted highest id is not handed out again), and the
revision goes down and up again."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import Connection, make_url

from gateway import migrate
from gateway.db import make_engine
from tests.conftest import _base_url, make_settings


@pytest.fixture
async def fresh_url(tmp_path: Path) -> AsyncIterator[str]:
    base = _base_url()
    if not base.startswith("postgresql"):
        yield f"sqlite+aiosqlite:///{tmp_path / 'migrate.db'}"
        return
    import asyncpg

    url = make_url(base)
    name = f"gw_migrate_{uuid.uuid4().hex[:12]}"
    admin = url.set(drivername="postgresql", database=url.database or "postgres")
    dsn = admin.render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        conn = await asyncpg.connect(dsn)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


async def run(url: str, statements: list[str]) -> list[list[tuple[Any, ...]]]:
    """The statements in one transaction; the rows of each SELECT."""
    engine = make_engine(make_settings(url))
    found: list[list[tuple[Any, ...]]] = []
    try:
        async with engine.begin() as conn:
            for statement in statements:
                result = await conn.execute(text(statement))
                if statement.startswith("SELECT"):
                    found.append([tuple(row) for row in result])
    finally:
        await engine.dispose()
    return found


async def downgrade(url: str, revision: str) -> None:
    engine = make_engine(make_settings(url))
    config = migrate.alembic_config(url)

    def down(connection: Connection) -> None:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)

    try:
        async with engine.begin() as conn:
            await conn.run_sync(down)
    finally:
        await engine.dispose()


SEED = [
    "INSERT INTO users (id, username, email, full_name, hashed_password, role, theme,"
    " notifications, created_at, updated_at) VALUES ('0b5c4a7e4b8f4f1a9d8e6c2b1a0f9e8d',"
    " 'ana', 'ana@example.com', 'Ana', 'x', 'STUDENT', 'system', true,"
    " '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
    "INSERT INTO subjects (id, name, description, guide, created_at, updated_at)"
    " VALUES ('INF001', 'Algorithms', '', '', '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
    "INSERT INTO chat_sessions (id, user_id, subject_id, title, created_at, last_active)"
    " VALUES ('s1', '0b5c4a7e4b8f4f1a9d8e6c2b1a0f9e8d', 'INF001', '',"
    " '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
]


def message(n: int) -> str:
    return (
        "INSERT INTO messages (session_id, role, content, status, created_at)"
        f" VALUES ('s1', 'user', 'm{n}', 'answered', '2026-01-01 00:00:0{n}')"
    )


async def test_0003_keeps_messages_and_never_reuses_ids(fresh_url: str, is_postgres: bool) -> None:
    settings = make_settings(fresh_url)
    await migrate.upgrade(settings, "0002_analytics")
    await run(fresh_url, [*SEED, message(1), message(2), message(3)])
    await migrate.upgrade(settings)

    [rows] = await run(fresh_url, ["SELECT id, content FROM messages ORDER BY id"])
    assert [content for _, content in rows] == ["m1", "m2", "m3"]
    highest = max(int(i) for i, _ in rows)
    await run(fresh_url, [f"DELETE FROM messages WHERE id = {highest}", message(4)])
    [[(new_id,)]] = await run(fresh_url, ["SELECT max(id) FROM messages"])
    assert int(new_id) > highest

    await downgrade(fresh_url, "0002_analytics")
    [[(count,)]] = await run(fresh_url, ["SELECT count(*) FROM messages"])
    assert count == 3
    await migrate.upgrade(settings)
    if not is_postgres:
        [[(sql,)]] = await run(fresh_url, ["SELECT sql FROM sqlite_master WHERE name = 'messages'"])
        assert "AUTOINCREMENT" in str(sql)
