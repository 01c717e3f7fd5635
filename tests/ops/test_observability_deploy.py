"""The compose stack's tracing wiring and what the dashboard shows (checked as files: Docker
cannot run here)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
DASHBOARD = json.loads((ROOT / "deploy/grafana/dashboards/gateway.json").read_text())
PROBES = 'route!~"/metrics|/health.*"'


def panel(title: str) -> dict[str, Any]:
    (found,) = [p for p in DASHBOARD["panels"] if p["title"] == title]
    return found


def exprs(title: str) -> list[str]:
    return [t["expr"] for t in panel(title)["targets"]]


def test_gateway_sends_traces_to_jaeger_which_grafana_reads() -> None:
    env = COMPOSE["services"]["gateway"]["environment"]
    assert env["GATEWAY_OTEL_ENABLED"].startswith("${GATEWAY_OTEL_ENABLED:-")
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://jaeger:4318"  # OTLP over HTTP
    assert env["OTEL_SERVICE_NAME"] == "study-gateway"
    jaeger = COMPOSE["services"]["jaeger"]
    assert jaeger["image"].startswith("jaegertracing/") and ":latest" not in jaeger["image"]
    assert "127.0.0.1:16686:16686" in jaeger["ports"]
    sources = yaml.safe_load(
        (ROOT / "deploy/grafana/provisioning/datasources/jaeger.yml").read_text()
    )["datasources"]
    assert [(s["type"], s["uid"], s["url"]) for s in sources] == [
        ("jaeger", "jaeger", "http://jaeger:16686")
    ]
    assert "[otel]" in (ROOT / "Dockerfile").read_text()  # the image can trace


def test_dashboard_links_requests_to_their_traces() -> None:
    urls = [link["url"] for link in DASHBOARD["links"]]
    assert any("gateway.request_id" in u and "${request_id}" in u for u in urls)
    assert any(u.endswith("/trace/${trace_id}") for u in urls)
    names = {v["name"] for v in DASHBOARD["templating"]["list"]}
    assert {"request_id", "trace_id", "jaeger_url"} <= names
    route_links = panel("Request rate by route")["fieldConfig"]["defaults"]["links"]
    assert "${__field.labels.route}" in route_links[0]["url"]


def test_dashboard_queries_tell_the_truth() -> None:
    # 0 rather than "no data" when nothing failed
    assert all("or vector(0)" in e for e in exprs("Error rate (5xx share of requests)"))
    # scrapes and probes are not traffic
    for title in ("Request rate by route", "Error rate (5xx share of requests)", "HTTP latency"):
        assert all(PROBES in e for e in exprs(title)), title
    assert all("by (le, outcome)" in e for e in exprs("Chat upstream latency"))
    assert any(
        "gateway_db_waiting_requests" in e
        for e in exprs("Requests waiting for a database connection")
    )
    assert any(
        "gateway_graphql_operation_duration_seconds_bucket" in e
        for e in exprs("GraphQL latency by operation")
    )
    assert any("gateway_graphql_errors_total" in e for e in exprs("GraphQL errors by code"))
    ids = [p["id"] for p in DASHBOARD["panels"]]
    assert len(ids) == len(set(ids))


def test_every_dashboard_query_parses_in_prometheus(tmp_path: Path) -> None:
    """promtool (from the same package as the prometheus binary) parses each expression."""
    promtool = shutil.which("promtool")
    assert promtool, "needs promtool: apt-get install -y prometheus"
    rules = [
        {"record": f"dashboard:panel{p['id']}:{t['refId']}", "expr": t["expr"]}
        for p in DASHBOARD["panels"]
        for t in p["targets"]
    ]
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    done = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
