"""Helpers for the operations tests: apps with their own settings, and real servers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from gateway.app import Gateway, create_app
from gateway.config import Settings
from tests.conftest import PASSWORD, TEST_SECRET, Api, make_settings

ROOT = Path(__file__).resolve().parents[2]

AppFactory = Callable[..., AbstractAsyncContextManager[Api]]


@pytest.fixture
def make_api(settings: Settings, gateway: Gateway) -> AppFactory:
    """`async with make_api(rate_limit_auth="5/minute") as api:` a fresh app (own settings,
    own in-memory counters) on the session's database; tables are emptied afterwards
    (this fixture depends on `gateway`, which enables the cleanup)."""

    @asynccontextmanager
    async def build(**overrides: Any) -> AsyncIterator[Api]:
        app = create_app(make_settings(settings.database_url, **overrides))
        async with LifespanManager(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
                yield Api(c, app.state.gateway)

    return build


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def server_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.update(
        GATEWAY_ENV="test",
        GATEWAY_DATABASE_URL=database_url,
        GATEWAY_JWT_SECRET=TEST_SECRET,
        GATEWAY_ARGON2_TIME_COST="1",
        GATEWAY_ARGON2_MEMORY_KIB="64",
        GATEWAY_AUTO_MIGRATE="false",
        GATEWAY_RATE_LIMIT_AUTH="100000/minute",
        GATEWAY_RATE_LIMIT_CHAT="100000/minute",
        GATEWAY_RATE_LIMIT_DEFAULT="100000/minute",
        PYTHONPATH=str(ROOT),
    )
    env.update(extra)
    return env


class Server:
    def __init__(self, proc: subprocess.Popen[str], port: int, log: Path) -> None:
        self.proc = proc
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log = log

    def output(self) -> str:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        return self.log.read_text(errors="replace")


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    """Start `gateway serve` in a subprocess and wait until /health answers."""
    started: list[Server] = []

    def start(env: dict[str, str], *args: str) -> Server:
        port = free_port()
        # A file, not a pipe: nobody reads a pipe while the server runs, and a full pipe
        # would block the server's logging (and so every request) once 64 KiB are written.
        fd, name = tempfile.mkstemp(prefix=f"gateway-{port}-", suffix=".log")
        os.close(fd)
        log = Path(name)
        with log.open("w") as sink:
            proc = subprocess.Popen(
                [sys.executable, "-m", "gateway.cli", "serve", "--port", str(port), *args],
                cwd=ROOT,
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
                text=True,
            )
        server = Server(proc, port, log)
        started.append(server)
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{server.url}/health", timeout=1).status_code == 200:
                    return server
            except httpx.TransportError:
                pass
            assert proc.poll() is None, server.output()
            assert time.monotonic() < deadline, "server did not start:\n" + server.output()
            time.sleep(0.1)

    yield start
    for server in started:
        if server.proc.poll() is None:
            server.proc.terminate()
            try:
                server.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.proc.kill()
                server.proc.wait(timeout=10)
        server.log.unlink(missing_ok=True)


__all__ = ["PASSWORD", "ROOT", "AppFactory", "Server", "free_port", "server_env"]
