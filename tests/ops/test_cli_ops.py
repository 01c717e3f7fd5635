"""The operator's commands: --help everywhere, and an idempotent demo data set."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import func, select

from gateway.cli import parser
from gateway.config import Settings
from gateway.sessions.models import ChatSession, Message, QuizAttempt
from gateway.subjects.models import Enrollment, Subject
from gateway.users.models import User
from tests.conftest import Api
from tests.ops.conftest import ROOT, server_env

COMMANDS = sorted(parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr,arg-type]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_every_command_is_listed() -> None:
    assert {"serve", "migrate", "create-admin", "seed-demo", "export-schema"} <= set(COMMANDS)
    top = run("--help")
    assert top.returncode == 0
    for command in COMMANDS:
        assert command in top.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_help_on_each_command(command: str) -> None:
    result = run(command, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: gateway {command}")


def test_serve_help_lists_its_options() -> None:
    out = run("serve", "--help").stdout
    for option in ("--host", "--port", "--workers", "--reload", "--grace"):
        assert option in out


async def counts(api: Api) -> dict[str, int]:
    async with api.gateway.db.read() as db:
        return {
            model.__tablename__: int(await db.scalar(select(func.count()).select_from(model)) or 0)
            for model in (User, Subject, Enrollment, ChatSession, Message, QuizAttempt)
        }


async def test_seed_demo_is_realistic_and_idempotent(api: Api, settings: Settings) -> None:
    env = server_env(settings.database_url)
    first = run("seed-demo", env=env)
    assert first.returncode == 0, first.stderr
    assert "created 9 users, 3 subjects, 11 enrollments" in first.stdout, first.stdout
    after_first = await counts(api)
    assert after_first == {
        "users": 9,
        "subjects": 3,
        "enrollments": 11,
        "chat_sessions": 11,
        "messages": 44,
        "quiz_attempts": 11,
    }
    second = run("seed-demo", env=env)
    assert second.returncode == 0, second.stderr
    assert "created nothing new" in second.stdout
    assert await counts(api) == after_first

    # The accounts work through the API with the printed password.
    token = await api.token("gabriel", "demo-password-1")
    body = await api.gql("{ me { role subjectCodes } }", token=token)
    assert body["data"]["me"] == {"role": "STUDENT", "subjectCodes": ["INF001", "INF002"]}
    admin = await api.token("admin", "demo-password-1")
    r = await api.client.get(
        "/admin/users", params={"role": "PROFESSOR"}, headers={"Authorization": f"Bearer {admin}"}
    )
    assert sorted(u["username"] for u in r.json()) == ["jlopez", "mgarcia"]
