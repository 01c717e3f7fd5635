"""Docker cannot run on this machine: the compose file, the Dockerfile and the monitoring
configuration are checked for structure here instead."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY

from gateway.cli import parser
from gateway.config import Settings
from tests.ops.conftest import ROOT

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def test_compose_has_the_whole_stack() -> None:
    assert set(SERVICES) == {
        "postgres",
        "redis",
        "gateway",
        "chatbot",
        "prometheus",
        "grafana",
        "jaeger",
    }
    assert "pgdata" in COMPOSE["volumes"]


@pytest.mark.parametrize(
    "name", ["postgres", "redis", "gateway", "chatbot", "prometheus", "grafana", "jaeger"]
)
def test_every_service_has_a_healthcheck(name: str) -> None:
    check = SERVICES[name]["healthcheck"]
    assert check["test"][0] in ("CMD", "CMD-SHELL") and len(check["test"]) > 1
    assert {"interval", "timeout", "retries"} <= set(check)


def test_gateway_service_configuration() -> None:
    gateway = SERVICES["gateway"]
    assert gateway["build"] == "."
    assert "8000:8000" in gateway["ports"]
    env = gateway["environment"]
    assert env["GATEWAY_ENV"] == "production"
    assert env["GATEWAY_DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert "@postgres:5432/" in env["GATEWAY_DATABASE_URL"]
    assert env["REDIS_URL"] == "redis://redis:6379/0"
    assert env["CHATBOT_URL"] == "http://chatbot:8080"
    assert re.fullmatch(r"\$\{GATEWAY_JWT_SECRET:\?.+\}", env["GATEWAY_JWT_SECRET"])
    # Every GATEWAY_ variable it sets is a real setting (or the image's worker count).
    fields = {f"GATEWAY_{name.upper()}" for name in Settings.model_fields}
    assert {k for k in env if k.startswith("GATEWAY_")} <= fields | {"GATEWAY_WORKERS"}
    conditions = {name: dep["condition"] for name, dep in gateway["depends_on"].items()}
    assert conditions == {
        "postgres": "service_healthy",
        "redis": "service_healthy",
        "chatbot": "service_healthy",
    }
    assert "/health/ready" in " ".join(gateway["healthcheck"]["test"])
    grace = int(env["GATEWAY_SHUTDOWN_GRACE_SECONDS"])
    assert int(gateway["stop_grace_period"].rstrip("s")) > grace


def test_chatbot_and_monitoring_services() -> None:
    chatbot = SERVICES["chatbot"]
    assert chatbot["command"][:2] == ["gateway", "demo-chatbot"]
    assert "8080" in chatbot["command"]
    assert SERVICES["prometheus"]["depends_on"]["gateway"]["condition"] == "service_healthy"
    assert any("prometheus.yml" in v for v in SERVICES["prometheus"]["volumes"])
    grafana = SERVICES["grafana"]
    assert grafana["depends_on"]["prometheus"]["condition"] == "service_healthy"
    for volume in grafana["volumes"]:
        source = volume.split(":")[0]
        assert (ROOT / source).exists(), source


def test_prometheus_scrapes_the_gateway() -> None:
    config = yaml.safe_load((ROOT / "deploy/prometheus.yml").read_text())
    (job,) = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    assert job["static_configs"][0]["targets"] == ["gateway:8000"]


def test_grafana_provisioning_and_dashboard() -> None:
    provisioning = ROOT / "deploy/grafana/provisioning"
    (source,) = yaml.safe_load((provisioning / "datasources/prometheus.yml").read_text())[
        "datasources"
    ]
    assert source["url"] == "http://prometheus:9090" and source["uid"] == "prometheus"
    (provider,) = yaml.safe_load((provisioning / "dashboards/gateway.yml").read_text())["providers"]
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"

    dashboard = json.loads((ROOT / "deploy/grafana/dashboards/gateway.json").read_text())
    titles = {panel["title"] for panel in dashboard["panels"]}
    assert {
        "Request rate by route",
        "Error rate (5xx share of requests)",
        "HTTP latency",
        "Chat upstream latency",
    } <= titles
    # Every metric a panel queries is one the gateway exports.
    exported = {
        sample.name
        for family in REGISTRY.collect()
        for sample in family.samples
        if sample.name.startswith("gateway_")
    } | {family.name for family in REGISTRY.collect() if family.name.startswith("gateway_")}
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == "prometheus"
        for target in panel["targets"]:
            for metric in re.findall(r"gateway_[a-z_]+", target["expr"]):
                base = re.sub(r"_(bucket|count|sum|total)$", "", metric)
                assert metric in exported or base in exported, (panel["title"], metric)


def test_dockerfile_runs_as_non_root_with_a_healthcheck() -> None:
    lines = [line.strip() for line in DOCKERFILE.splitlines()]
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    assert "useradd" in DOCKERFILE
    assert any(line.startswith("HEALTHCHECK ") for line in lines)
    assert "/health/ready" in DOCKERFILE
    assert "EXPOSE 8000" in lines
    cmd = [line for line in lines if line.startswith("CMD ")][-1]  # the last one counts
    assert "gateway migrate && exec gateway serve" in cmd
    # Files the image copies exist, and the command it runs is a real one.
    for line in lines:
        if line.startswith("COPY ") and "--from" not in line:
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), source
    commands = parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert {"migrate", "serve"} <= set(commands)  # type: ignore[arg-type]


def test_dockerignore_keeps_local_state_out() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv/", ".git/", ".env", "*.db"} <= set(ignored)


def test_paths_referenced_by_compose_exist() -> None:
    for service in SERVICES.values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), source
    assert Path(ROOT / "Dockerfile").is_file()
