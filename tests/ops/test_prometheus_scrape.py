"""A real Prometheus (the `prometheus` binary: Debian's package here and in CI) scraping two
gateway workers: increase() over what Prometheus stored equals what was sent, the first
burst of a label set included."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.config import Settings
from tests.ops.conftest import ROOT, Server, free_port, server_env

SCRAPE_SECONDS = 1


class Prometheus:
    def __init__(self, url: str) -> None:
        self.url = url

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"query": expr}
        if at is not None:
            params["time"] = at
        body = httpx.get(f"{self.url}/api/v1/query", params=params, timeout=10).json()
        assert body["status"] == "success", body
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def scalar(self, expr: str, at: float | None = None) -> float | None:
        result = self.query(expr, at)
        return float(result[0]["value"][1]) if result else None

    def wait_for(self, selector: str, wanted: float, seconds: float = 60) -> float:
        """Poll until sum(selector) reaches wanted; returns the time of that scrape."""
        deadline = time.monotonic() + seconds
        while True:
            # timestamp() of the raw series: an aggregation would give the evaluation time.
            scraped = self.scalar(f"max(timestamp({selector}))")
            current = None if scraped is None else self.scalar(f"sum({selector})", scraped)
            if current == wanted and scraped is not None:
                return scraped
            assert time.monotonic() < deadline, f"{selector} = {current}, waiting for {wanted}"
            time.sleep(0.2)


@pytest.fixture
def prometheus() -> Iterator[Callable[[int], Prometheus]]:
    binary = shutil.which("prometheus")
    assert binary, "needs the prometheus binary: apt-get install -y prometheus"
    started: list[subprocess.Popen[bytes]] = []
    directory = tempfile.TemporaryDirectory()

    def start(target_port: int) -> Prometheus:
        config = Path(directory.name) / "prometheus.yml"
        config.write_text(
            f"global:\n  scrape_interval: {SCRAPE_SECONDS}s\n"
            "scrape_configs:\n  - job_name: gateway\n    static_configs:\n"
            f"      - targets: ['127.0.0.1:{target_port}']\n"
        )
        port = free_port()
        proc = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={directory.name}/data",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        started.append(proc)
        prom = Prometheus(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{prom.url}/-/ready", timeout=1).status_code == 200:
                    return prom
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "prometheus did not start"
            time.sleep(0.1)

    yield start
    for proc in started:
        proc.terminate()
        proc.wait(timeout=30)
    directory.cleanup()


def test_increase_counts_the_first_burst_across_two_workers(
    serve: Callable[..., Server], settings: Settings, prometheus: Callable[[int], Prometheus]
) -> None:
    with tempfile.TemporaryDirectory() as multiproc:
        server = serve(
            server_env(
                settings.database_url,
                PROMETHEUS_MULTIPROC_DIR=multiproc,
                GATEWAY_RATE_LIMIT_AUTH="5/minute",
            ),
            "--workers",
            "2",
        )
        prom = prometheus(server.port)
        # Prometheus has scraped the server before any traffic (the start-up probes aside).
        prom.wait_for('up{job="gateway"}', 1)
        token_requests = 'gateway_http_requests_total{route="/token"}'
        assert prom.scalar(f"sum({token_requests})") == 0

        sent = 40
        statuses: dict[int, int] = {}
        for i in range(sent):
            # A new connection each time, so that both workers take some.
            response = httpx.post(
                f"{server.url}/token",
                data={"username": f"nobody{i % 3}", "password": "wrong-password-1"},
                timeout=10,
            )
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        refused = statuses.get(429, 0)
        assert refused > 0 and set(statuses) <= {401, 429}, statuses

        at = prom.wait_for(token_requests, sent)
        # Evaluated at the last scrape: no extrapolation past it, and none before the first
        # sample because that sample is 0 (the series existed before the burst).
        assert prom.scalar(
            'sum(increase(gateway_http_requests_total{route="/token"}[5m]))', at
        ) == pytest.approx(sent)
        assert prom.scalar(
            'sum(increase(gateway_http_requests_total{route="/token",status="429"}[5m]))', at
        ) == pytest.approx(refused)
        assert prom.scalar(
            'sum(increase(gateway_rate_limited_total{category="auth"}[5m]))', at
        ) == pytest.approx(refused)
        # Every count on the dashboard answers, 0 when nothing happened, never "no data"
        # (a latency quantile of no operation at all has no value: there "no data" is true).
        dashboard = json.loads((ROOT / "deploy/grafana/dashboards/gateway.json").read_text())
        for panel in dashboard["panels"]:
            for target in panel["targets"]:
                if not target["expr"].startswith("histogram_quantile"):
                    assert prom.query(target["expr"], at), (panel["title"], target["expr"])
        five_xx = dashboard["panels"][1]["targets"][0]["expr"]
        assert prom.scalar(five_xx, at) == 0
