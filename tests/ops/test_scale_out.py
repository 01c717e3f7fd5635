"""Scale-out on one machine: three `gateway serve` processes (different ports) share the
database and Redis, as pods behind a Kubernetes Service do. A scripted student/professor flow
is spread over them round-robin, and rate limits, persisted queries, subscriptions and metrics
must behave as one service."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from itertools import cycle
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from redis import asyncio as aioredis
from websockets.asyncio.client import ClientConnection, connect

from gateway.adapters.broker import PREFIX
from gateway.config import Settings
from gateway.users.models import Role
from tests.conftest import PASSWORD, Api
from tests.ops.conftest import ROOT, free_port, server_env
from tests.upstream_stub import Stub

REDIS_URL = os.environ.get("GATEWAY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PROCESSES = 3
# Low enough that no single process sees it reached when requests are spread over three.
DEFAULT_LIMIT = 8
PROTOCOL = "graphql-transport-ws"
SUBSCRIBE = (
    "subscription($s: ID!) { messageAdded(sessionId: $s) { sessionId role content status } }"
)


class Gateways:
    def __init__(self, urls: list[str]) -> None:
        self.urls = urls
        self._next = cycle(range(len(urls)))

    def next(self) -> str:
        """The next process, round-robin: what a Service does with new connections."""
        return self.urls[next(self._next)]


def _wait_healthy(procs: list[subprocess.Popen[str]], urls: list[str], logs: list[Path]) -> None:
    deadline = time.monotonic() + 60
    pending = set(range(len(urls)))
    while pending:
        for i in sorted(pending):
            assert procs[i].poll() is None, logs[i].read_text(errors="replace")
            try:
                if httpx.get(f"{urls[i]}/health", timeout=1).status_code == 200:
                    pending.discard(i)
            except httpx.TransportError:
                pass
        assert time.monotonic() < deadline, "gateways did not start"
        time.sleep(0.05)


@pytest.fixture
def gateways(settings: Settings, stub: Stub, api: Api) -> Iterator[Gateways]:
    """Three real servers, started together; `api` empties the tables afterwards."""
    env = server_env(
        settings.database_url,
        REDIS_URL=REDIS_URL,
        CHATBOT_URL=stub.url,
        GATEWAY_LOG_LEVEL="WARNING",
        GATEWAY_RATE_LIMIT_DEFAULT=f"{DEFAULT_LIMIT}/minute",
        # Redis outlives this run and other runs share it: counters of our own.
        GATEWAY_RATE_LIMIT_KEY_PREFIX=f"scale-out-{uuid.uuid4().hex}",
    )
    procs: list[subprocess.Popen[str]] = []
    logs: list[Path] = []
    urls: list[str] = []
    try:
        for _ in range(PROCESSES):
            port = free_port()
            fd, name = tempfile.mkstemp(prefix=f"gateway-{port}-", suffix=".log")
            os.close(fd)
            logs.append(Path(name))
            with logs[-1].open("w") as sink:
                procs.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "gateway.cli", "serve", "--port", str(port)],
                        cwd=ROOT,
                        env=env,
                        stdout=sink,
                        stderr=subprocess.STDOUT,
                        text=True,
                    )
                )
            urls.append(f"http://127.0.0.1:{port}")
        _wait_healthy(procs, urls, logs)
        yield Gateways(urls)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        for log in logs:
            log.unlink(missing_ok=True)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def recv(ws: ClientConnection) -> dict[str, Any]:
    frame = await asyncio.wait_for(ws.recv(), 10)
    assert isinstance(frame, str), f"binary frame: {frame!r}"
    message: dict[str, Any] = json.loads(frame)
    return message


async def until_subscribed(channel: str) -> None:
    """Redis itself says when the subscriber's process listens on the session's channel."""
    redis = aioredis.from_url(REDIS_URL)
    try:
        deadline = time.monotonic() + 10
        while True:
            counts = dict(await redis.pubsub_numsub(PREFIX + channel))
            if int(counts.get((PREFIX + channel).encode(), 0)) >= 1:
                return
            assert time.monotonic() < deadline, "the subscription never reached Redis"
            await asyncio.sleep(0.02)
    finally:
        await redis.aclose()


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(http: httpx.AsyncClient, url: str) -> Samples:
    response = await http.get(f"{url}/metrics")
    assert response.status_code == 200
    out: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def total(scrapes: list[Samples], name: str, **labels: str) -> float:
    """What Prometheus's sum() over the pods gives."""
    return sum(s.get((name, frozenset(labels.items())), 0.0) for s in scrapes)


async def test_three_processes_behave_as_one_service(gateways: Gateways, api: Api) -> None:
    tag = uuid.uuid4().hex[:10]
    student, professor, subject = f"stu{tag}", f"prof{tag}", f"SO-{tag}"
    session_id = f"scale-{tag}"
    admin = await api.user(f"adm{tag}", Role.ADMIN)
    await api.user(professor, Role.PROFESSOR)
    prof_token = await api.token(professor)

    async with httpx.AsyncClient(timeout=15) as http:
        # Set-up through the processes: the admin creates a subject taught by the professor;
        # the student registers on one process, logs in on the next, enrolls on the third.
        created = await http.post(
            f"{gateways.next()}/subjects",
            json={"subject_id": subject, "name": "Scale-out", "professor_id": professor},
            headers=bearer(admin),
        )
        assert created.status_code == 201, created.text
        registered = await http.post(
            f"{gateways.next()}/register",
            json={
                "username": student,
                "email": f"{student}@example.com",
                "password": PASSWORD,
                "full_name": "Student",
            },
        )
        assert registered.status_code in (200, 201), registered.text
        login = await http.post(
            f"{gateways.next()}/token", data={"username": student, "password": PASSWORD}
        )
        assert login.status_code == 200, login.text
        token = login.json()["access_token"]
        enrolled = await http.post(
            f"{gateways.next()}/subjects/{subject}/enroll", headers=bearer(token)
        )
        assert enrolled.status_code == 200, enrolled.text

        # Subscriptions: chat on one process, subscribe on another, the next message is sent
        # through a third; the subscriber's process hears it through Redis.
        chat_url = gateways.next()
        first = await http.post(
            f"{chat_url}/chat",
            json={"id": session_id, "asignatura": subject, "content": "hola"},
            headers=bearer(token),
        )
        assert first.status_code == 200, first.text
        ws_url = gateways.next()
        send_url = gateways.next()
        assert len({chat_url, ws_url, send_url}) == PROCESSES
        ws = await connect(
            ws_url.replace("http://", "ws://") + "/graphql",
            subprotocols=[PROTOCOL],  # type: ignore[list-item]
        )
        try:
            await ws.send(json.dumps({"type": "connection_init", "payload": bearer(token)}))
            assert (await recv(ws))["type"] == "connection_ack"
            await ws.send(
                json.dumps(
                    {
                        "id": "1",
                        "type": "subscribe",
                        "payload": {"query": SUBSCRIBE, "variables": {"s": session_id}},
                    }
                )
            )
            await until_subscribed(f"session:{session_id}")
            second = await http.post(
                f"{send_url}/chat",
                json={"id": session_id, "asignatura": subject, "content": "¿me oyes?"},
                headers=bearer(token),
            )
            assert second.status_code == 200, second.text
            mine, reply = await recv(ws), await recv(ws)
            assert mine["type"] == "next" and mine["id"] == "1"
            assert mine["payload"]["data"]["messageAdded"] == {
                "sessionId": session_id,
                "role": "USER",
                "content": "¿me oyes?",
                "status": "SENT",
            }
            assert reply["payload"]["data"]["messageAdded"]["role"] == "ASSISTANT"
            assert "¿me oyes?" in reply["payload"]["data"]["messageAdded"]["content"]
        finally:
            await ws.close()

        # Persisted queries: registered through one process, found by hash on the others.
        query = f"query Apq{tag} {{ me {{ username }} }}"
        digest = hashlib.sha256(query.encode()).hexdigest()
        extension = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
        registered_query = await http.post(
            f"{gateways.next()}/graphql",
            json={"query": query, "extensions": extension},
            headers=bearer(token),
        )
        assert registered_query.json() == {"data": {"me": {"username": student}}}
        for _ in range(PROCESSES - 1):
            by_hash = await http.post(
                f"{gateways.next()}/graphql", json={"extensions": extension}, headers=bearer(token)
            )
            assert by_hash.json() == {"data": {"me": {"username": student}}}, by_hash.text

        # The professor's analytics, from any process, see what the others wrote.
        analytics = await http.get(
            f"{gateways.next()}/professor/subjects/{subject}/analytics", headers=bearer(prof_token)
        )
        assert analytics.status_code == 200, analytics.text
        body = analytics.json()
        assert body["total_students"] == 1 and body["active_students"] == 1
        assert [p["username"] for p in body["student_progress"]] == [student]

        # Rate limits: a fresh user's requests, spread round-robin, are counted together;
        # each process alone has seen at most three, yet the (limit+1)th is refused.
        limited = await api.user(f"lim{tag}")
        statuses = []
        for _ in range(DEFAULT_LIMIT + 1):
            response = await http.get(f"{gateways.next()}/users/me", headers=bearer(limited))
            statuses.append(response.status_code)
        assert statuses == [200] * DEFAULT_LIMIT + [429], statuses
        assert int(response.headers["Retry-After"]) >= 1

        # Metrics: each process exports its own counters (Prometheus scrapes every pod); their
        # sum is the service's, and no request was counted twice or lost.
        scrapes = [await scrape(http, url) for url in gateways.urls]
    requests = "gateway_http_requests_total"
    assert total(scrapes, requests, method="POST", route="/chat", status="200") == 2
    assert total(scrapes, "gateway_upstream_requests_total", outcome="ok") == 2
    assert total(scrapes, requests, method="POST", route="/token", status="200") == 1
    me = {"method": "GET", "route": "/users/me"}
    assert total(scrapes, requests, **me, status="200") == DEFAULT_LIMIT
    assert total(scrapes, requests, **me, status="429") == 1
    assert total(scrapes, "gateway_rate_limited_total", category="default") == 1
    served = [s.get((requests, frozenset({**me, "status": "200"}.items())), 0) for s in scrapes]
    assert all(0 < n < DEFAULT_LIMIT for n in served), served  # really spread out
    operations = "gateway_graphql_operations_total"
    apq = {"operation": f"Apq{tag}", "type": "query", "outcome": "ok"}
    assert total(scrapes, operations, **apq) == PROCESSES
