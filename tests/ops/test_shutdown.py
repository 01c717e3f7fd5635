"""Graceful shutdown: on SIGTERM the server stops accepting, lets the request in flight
finish, then exits within the grace period."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.config import Settings
from tests.ops.conftest import Server, server_env

GRACE = 15


def in_progress(server: Server) -> float:
    text = httpx.get(f"{server.url}/metrics", timeout=5).text
    for family in text_string_to_metric_families(text):
        if family.name == "gateway_http_requests_in_progress":
            return sum(sample.value for sample in family.samples)
    return 0.0


def wait_for_log(server: Server, line: str, timeout: float = 10) -> None:
    """Until the server has written `line` to its log (it is still running: Server.output()
    would kill it)."""
    deadline = time.monotonic() + timeout
    while line not in server.log.read_text(errors="replace"):
        assert time.monotonic() < deadline and server.proc.poll() is None, server.output()
        time.sleep(0.01)


def test_in_flight_request_completes_before_exit(
    serve: Callable[..., Server], settings: Settings
) -> None:
    # A real slow request: login with a production-grade Argon2 cost (~1 s per verify).
    env = server_env(
        settings.database_url, GATEWAY_ARGON2_TIME_COST="15", GATEWAY_ARGON2_MEMORY_KIB="65536"
    )
    server = serve(env, "--grace", str(GRACE))
    account = {"username": "slowpoke", "email": "slow@example.com", "password": "long-enough-1"}
    assert httpx.post(f"{server.url}/register", json=account, timeout=60).status_code == 201

    result: dict[str, object] = {}

    def login() -> None:
        started = time.monotonic()
        try:
            r = httpx.post(
                f"{server.url}/token",
                data={"username": "slowpoke", "password": "long-enough-1"},
                timeout=60,
            )
            result["status"], result["body"] = r.status_code, r.json()
        except httpx.HTTPError as exc:  # recorded, so the assertion below shows it
            result["error"] = repr(exc)
        result["took"] = time.monotonic() - started
        result["done"] = time.monotonic()

    client = threading.Thread(target=login)
    client.start()
    # Wait until the server is serving it: two requests in progress, the login and the scrape.
    deadline = time.monotonic() + 10
    while in_progress(server) < 2:
        assert time.monotonic() < deadline and "done" not in result, result
        time.sleep(0.02)
    signalled = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    wait_for_log(server, "Shutting down")  # uvicorn closes its listening sockets right after
    with pytest.raises(httpx.TransportError):  # no new connections once shutting down
        httpx.get(f"{server.url}/health", timeout=2)
    client.join(timeout=60)

    assert result.get("status") == 200, (result, server.output())
    assert isinstance(result["body"], dict) and result["body"]["access_token"]
    assert isinstance(result["done"], float) and result["done"] > signalled
    code = server.proc.wait(timeout=GRACE + 5)
    exited = time.monotonic()
    log = server.output()
    # uvicorn re-raises the signal once shut down, so "killed by SIGTERM" is its clean exit.
    assert code in (0, -signal.SIGTERM), log
    assert exited - signalled < GRACE
    order = ["Shutting down", "POST /token 200", "Application shutdown complete"]
    positions = [log.find(line) for line in order]
    assert -1 not in positions and positions == sorted(positions), log
