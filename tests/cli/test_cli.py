"""The `gateway` command as an operator runs it: a real process on a real port."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from gateway.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def run_cli(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update(GATEWAY_ARGON2_TIME_COST="1", GATEWAY_ARGON2_MEMORY_KIB="64", **extra)
    env["PYTHONPATH"] = str(ROOT)
    return env


def test_production_refuses_a_missing_or_placeholder_secret() -> None:
    with pytest.raises(ValidationError, match="GATEWAY_JWT_SECRET"):
        Settings(env="production", jwt_secret=None)
    with pytest.raises(ValidationError, match="GATEWAY_JWT_SECRET"):
        Settings(env="production", jwt_secret="change-me")
    strong = secrets.token_urlsafe(48)
    ok = Settings(env="production", jwt_secret=strong)
    assert ok.signing_secret == strong


def test_development_generates_a_secret_once_and_says_so(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    keep = tmp_path / "secret"
    with caplog.at_level("WARNING", logger="gateway.config"):
        secret = Settings(env="development", jwt_secret=None, jwt_secret_file=str(keep))
        first = secret.signing_secret
    assert len(first) >= 32
    assert "GATEWAY_JWT_SECRET is not set" in caplog.text
    assert oct(keep.stat().st_mode & 0o777) == "0o600"
    # A restart (or another worker) reads the same secret, so tokens stay valid.
    again = Settings(env="development", jwt_secret=None, jwt_secret_file=str(keep))
    assert again.signing_secret == first


def test_serve_on_a_fresh_directory_migrates_sqlite_and_answers(tmp_path: Path) -> None:
    """What the README's install-and-run command does: `gateway serve` with no configuration."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            assert time.monotonic() < deadline, "gateway did not start"
            time.sleep(0.2)
        assert (tmp_path / "gateway.db").exists()
        assert httpx.get(f"{base}/health/ready").json()["database"] == "ok"
        page = httpx.get(f"{base}/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 200 and "graphiql" in page.text.lower()
        assert httpx.get(f"{base}/docs").status_code == 200
        reg = httpx.post(
            f"{base}/register",
            json={"username": "first", "email": "first@example.com", "password": "long-enough-1"},
        )
        assert reg.status_code == 201, reg.text
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_migrate_then_create_admin(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'ops.db'}"
    env = cli_env(GATEWAY_DATABASE_URL=url)
    migrated = run_cli("migrate", cwd=tmp_path, env=env)
    assert migrated.returncode == 0, migrated.stderr
    created = run_cli(
        "create-admin",
        "--username",
        "root",
        "--email",
        "root@example.com",
        "--password",
        "long-enough-1",
        cwd=tmp_path,
        env=env,
    )
    assert created.returncode == 0, created.stderr
    assert "created admin root" in created.stdout
    again = run_cli(
        "create-admin",
        "--username",
        "root",
        "--email",
        "root2@example.com",
        "--password",
        "long-enough-1",
        cwd=tmp_path,
        env=env,
    )
    assert again.returncode == 1 and "already registered" in again.stderr
    weak = run_cli(
        "create-admin",
        "--username",
        "x",
        "--email",
        "bad",
        "--password",
        "1",
        cwd=tmp_path,
        env=env,
    )
    assert weak.returncode == 2


async def test_created_admin_can_log_in_and_administer(tmp_path: Path) -> None:
    from asgi_lifespan import LifespanManager

    from gateway.app import create_app
    from tests.conftest import make_settings

    url = f"sqlite+aiosqlite:///{tmp_path / 'admin.db'}"
    env = cli_env(GATEWAY_DATABASE_URL=url)
    assert run_cli("migrate", cwd=tmp_path, env=env).returncode == 0
    assert (
        run_cli(
            "create-admin",
            "--username",
            "root",
            "--email",
            "r@example.com",
            "--password",
            "long-enough-1",
            cwd=tmp_path,
            env=env,
        ).returncode
        == 0
    )
    app = create_app(make_settings(url))
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        token = (
            await client.post("/token", data={"username": "root", "password": "long-enough-1"})
        ).json()
        r = await client.get(
            "/admin/users", headers={"Authorization": f"Bearer {token['access_token']}"}
        )
        assert r.status_code == 200 and r.json()[0]["role"] == "ADMIN"


def test_export_schema_writes_sdl(tmp_path: Path) -> None:
    out = tmp_path / "schema.graphql"
    result = run_cli("export-schema", "--output", str(out), cwd=tmp_path, env=cli_env())
    assert result.returncode == 0, result.stderr
    assert out.read_text() == (ROOT / "schema.graphql").read_text()
