"""`gateway check-aggregates [--repair]` as an operator runs it, on the test database: the demo
seed (rows written past the services) leaves exact figures, a drifted figure is reported with
exit code 1, --repair fixes it, and the next check passes."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import update

from gateway.analytics.aggregates import STUDENT, SUBJECT
from gateway.config import Settings
from gateway.seed import seed
from tests.cli.test_cli import cli_env, run_cli
from tests.conftest import Api


async def check(settings: Settings, tmp_path: Path, *args: str) -> tuple[int, str]:
    env = cli_env(
        GATEWAY_DATABASE_URL=settings.database_url, GATEWAY_JWT_SECRET=settings.signing_secret
    )
    done = await asyncio.to_thread(run_cli, "check-aggregates", *args, cwd=tmp_path, env=env)
    assert not done.stderr, done.stderr
    return done.returncode, done.stdout


async def test_check_reports_repairs_and_passes(
    api: Api, settings: Settings, tmp_path: Path
) -> None:
    gateway = api.gateway
    report = await seed(gateway.db, gateway.passwords)
    assert report.created["quiz_attempts"] > 0
    assert await check(settings, tmp_path) == (0, "aggregates match the base tables\n")

    async with gateway.db.transaction() as db:
        await db.execute(update(SUBJECT).values(attempt_count=SUBJECT.c.attempt_count + 2))
        await db.execute(update(STUDENT).values(last_chat_at=None))
    code, out = await check(settings, tmp_path)
    assert code == 1
    lines = out.splitlines()
    assert any("subject_stats[" in line and ".attempt_count: stored" in line for line in lines)
    assert any(".last_chat_at: stored None, expected datetime" in line for line in lines)
    assert lines[-1].endswith("difference(s) found")

    code, out = await check(settings, tmp_path, "--repair")
    assert code == 1 and out.splitlines()[-1].endswith("difference(s) repaired")
    assert await check(settings, tmp_path) == (0, "aggregates match the base tables\n")
