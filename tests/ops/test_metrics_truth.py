"""Metrics that tell the truth: known series exist from the start (so rate()/increase() see
the first burst), fine latency buckets, GraphQL errors by code, no stuck gauge after a killed
worker, no metric files from one-off commands, no temporary directory left by `serve`."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from gateway.config import Settings
from tests.conftest import Api
from tests.ops.conftest import ROOT, Server, server_env
from tests.ops.test_metrics import samples, scrape, value


def test_known_label_sets_exist_at_zero_before_any_traffic(
    serve: Callable[..., Server], settings: Settings
) -> None:
    server = serve(server_env(settings.database_url))  # a fresh process: nothing counted yet
    data = samples(httpx.get(f"{server.url}/metrics", timeout=10).text)
    for category in ("auth", "chat", "default"):
        assert ("gateway_rate_limited_total", frozenset({("category", category)})) in data
    for outcome in ("ok", "timeout", "unavailable", "bad_response"):
        labels = frozenset({("outcome", outcome)})
        assert ("gateway_upstream_requests_total", labels) in data
        assert ("gateway_upstream_request_duration_seconds_count", labels) in data
    for method, route in (("POST", "/token"), ("POST", "/chat"), ("POST", "/graphql")):
        for status in ("200", "401", "429", "500", "503"):
            labels = frozenset({("method", method), ("route", route), ("status", status)})
            assert data.get(("gateway_http_requests_total", labels)) == 0, (route, status)
    for code in ("UNAUTHENTICATED", "RATE_LIMITED", "INTERNAL_SERVER_ERROR", "other"):
        assert data.get(("gateway_graphql_errors_total", frozenset({("code", code)}))) == 0


async def test_latency_buckets_resolve_single_milliseconds(api: Api) -> None:
    await api.client.get("/subjects")
    data = await scrape(api)
    buckets = {
        dict(labels)["le"]
        for name, labels in data
        if name == "gateway_http_request_duration_seconds_bucket"
    }
    assert {"0.001", "0.0025", "0.005"} <= buckets, buckets


async def test_graphql_errors_are_counted_by_code(api: Api) -> None:
    errors = "gateway_graphql_errors_total"
    before = await scrape(api)
    await api.gql("query { me { username } }")  # no token: UNAUTHENTICATED, HTTP 200
    await api.gql("query { nope }")  # GRAPHQL_VALIDATION_FAILED
    after = await scrape(api)
    for code in ("UNAUTHENTICATED", "GRAPHQL_VALIDATION_FAILED"):
        assert value(after, errors, code=code) - value(before, errors, code=code) == 1, code


def test_one_off_commands_write_nothing_into_the_multiprocess_directory(
    settings: Settings,
) -> None:
    with tempfile.TemporaryDirectory() as live, tempfile.TemporaryDirectory() as out:
        env = server_env(settings.database_url, PROMETHEUS_MULTIPROC_DIR=live)
        subprocess.run(
            [sys.executable, "-m", "gateway.cli", "export-schema", "-o", f"{out}/s.graphql"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            timeout=120,
        )
        assert os.listdir(live) == []


def test_serve_with_workers_removes_its_temporary_directory(
    serve: Callable[..., Server], settings: Settings
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = serve(server_env(settings.database_url, TMPDIR=tmp), "--workers", "2")
        made = [p for p in Path(tmp).iterdir() if p.name.startswith("gateway-metrics-")]
        assert len(made) == 1 and any(made[0].glob("*.db"))
        server.proc.send_signal(signal.SIGTERM)
        server.proc.wait(timeout=60)
        assert not made[0].exists()


def _worker_pids(directory: str) -> set[int]:
    """Live workers, known by their sample files (a worker creates them at start)."""
    pids = {int(p.stem.rsplit("_", 1)[1]) for p in Path(directory).glob("gauge_livesum_*.db")}
    return {pid for pid in pids if Path(f"/proc/{pid}").exists()}


def _in_progress(server: Server) -> float:
    body = httpx.get(f"{server.url}/metrics", timeout=10).text
    return value(samples(body), "gateway_http_requests_in_progress")


def _poll(check: Callable[[], bool], what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_a_killed_workers_requests_leave_the_in_progress_gauge(
    serve: Callable[..., Server], settings: Settings
) -> None:
    with tempfile.TemporaryDirectory() as directory:
        server = serve(
            server_env(settings.database_url, PROMETHEUS_MULTIPROC_DIR=directory),
            "--workers",
            "2",
        )
        _poll(lambda: len(_worker_pids(directory)) == 2, "two workers")
        # Requests that stay in progress: headers sent, the body never finishes.
        hanging = []
        for _ in range(6):
            sock = socket.create_connection(("127.0.0.1", server.port))
            sock.sendall(
                b"POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-"
                b"urlencoded\r\nContent-Length: 1000\r\n\r\nusername="
            )
            hanging.append(sock)
        try:
            _poll(lambda: _in_progress(server) == 6 + 1, "6 requests (and the scrape) in progress")
            workers = _worker_pids(directory)
            for pid in workers:
                os.kill(pid, signal.SIGKILL)  # no shutdown code runs
            # uvicorn starts new workers; whichever answers, only the scrape is in progress.
            _poll(lambda: len(_worker_pids(directory) - workers) == 2, "two new workers", 60)

            def only_the_scrape() -> bool:
                try:
                    return _in_progress(server) == 1
                except httpx.TransportError:
                    return False

            _poll(only_the_scrape, "the in-progress gauge stays above the scrape itself", 30)
        finally:
            for sock in hanging:
                sock.close()
