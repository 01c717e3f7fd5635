"""Issue 13, item 10c: the production refusal names the problem, never the values, and a
low-variety or repeated secret is not accepted as strong."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from gateway.config import Settings

ROOT = Path(__file__).resolve().parents[2]
DB_PASSWORD = "hunter2-db-password"
DB_URL = f"postgresql+asyncpg://admin:{DB_PASSWORD}@db.invalid:5432/gateway"

WEAK = [
    "a" * 32,
    "correct-horse-battery-" * 3,
    "correct-horse-battery-correct-horse-batt",  # a phrase repeated, the last copy cut
    "0123456789" * 4,
    "abababababababababababababababababab",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab",
    "CHANGE-ME",
]


@pytest.mark.parametrize("secret", WEAK)
def test_weak_secrets_are_refused_without_being_echoed(secret: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(env="production", jwt_secret=secret, database_url=DB_URL)
    text = str(refused.value)
    assert "GATEWAY_JWT_SECRET" in text
    assert secret not in text and DB_PASSWORD not in text


@pytest.mark.parametrize(
    "secret",
    [secrets.token_hex(16), secrets.token_urlsafe(32), secrets.token_urlsafe(48)]
    + [secrets.token_hex(16) for _ in range(50)],
)
def test_random_secrets_are_accepted(secret: str) -> None:
    assert Settings(env="production", jwt_secret=secret).signing_secret == secret


def test_the_start_up_refusal_prints_no_secret_no_credentials_no_traceback() -> None:
    secret = "s3cr3t-phrase-" * 4
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update(
        GATEWAY_ENV="production",
        GATEWAY_JWT_SECRET=secret,
        GATEWAY_DATABASE_URL=DB_URL,
        PYTHONPATH=str(ROOT),
    )
    done = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "serve", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert "GATEWAY_JWT_SECRET" in output and "repeats a shorter pattern" in output
    assert secret not in output and "s3cr3t" not in output
    assert DB_PASSWORD not in output
    assert "Traceback" not in output
