"""Request ids: taken from X-Request-ID or generated, echoed, in every log line and error."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Callable, Iterator

import pytest

from gateway.config import Settings
from gateway.observability.logging import make_handler
from tests.conftest import Api
from tests.ops.conftest import Server, server_env


@pytest.fixture
def log_stream() -> Iterator[Callable[[bool], io.StringIO]]:
    handlers: list[logging.Handler] = []
    logger = logging.getLogger("gateway")
    level = logger.level

    def attach(json_logs: bool) -> io.StringIO:
        stream = io.StringIO()
        handler = make_handler(json_logs, stream)
        handlers.append(handler)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        return stream

    yield attach
    for handler in handlers:
        logger.removeHandler(handler)
    logger.setLevel(level)


async def test_request_id_is_echoed_or_generated(api: Api) -> None:
    r = await api.client.get("/health", headers={"X-Request-ID": "req-123.abc"})
    assert r.headers["x-request-id"] == "req-123.abc"
    generated = (await api.client.get("/health")).headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    assert (await api.client.get("/health")).headers["x-request-id"] != generated
    # Unsafe or oversized ids are replaced, never logged as given.
    for bad in ("has space", "x" * 129, 'quote"d'):
        r = await api.client.get("/health", headers={"X-Request-ID": bad})
        assert re.fullmatch(r"[0-9a-f]{32}", r.headers["x-request-id"]), bad


async def test_errors_carry_the_request_id(api: Api) -> None:
    r = await api.client.get("/users/me", headers={"X-Request-ID": "err-1"})
    assert r.status_code == 401 and r.headers["x-request-id"] == "err-1"
    r = await api.client.get("/nope", headers={"X-Request-ID": "err-2"})
    assert r.status_code == 404 and r.headers["x-request-id"] == "err-2"
    r = await api.client.post(
        "/graphql", json={"query": "{ me { username } }"}, headers={"X-Request-ID": "err-3"}
    )
    assert r.headers["x-request-id"] == "err-3"
    error = r.json()["errors"][0]
    assert error["extensions"] == {"code": "UNAUTHENTICATED", "requestId": "err-3"}
    r = await api.client.post(
        "/graphql", json={"query": "{ nosuchfield }"}, headers={"X-Request-ID": "err-4"}
    )
    assert r.json()["errors"][0]["extensions"]["requestId"] == "err-4"


async def test_json_log_lines_carry_the_request_id(
    api: Api, log_stream: Callable[[bool], io.StringIO]
) -> None:
    stream = log_stream(True)
    await api.client.get("/users/someone", headers={"X-Request-ID": "trace-42"})
    await api.client.get("/health", headers={"X-Request-ID": "trace-43"})
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    access = [line for line in lines if line["logger"] == "gateway.access"]
    assert [line["request_id"] for line in access] == ["trace-42", "trace-43"]
    first = access[0]
    assert first["level"] == "INFO" and first["status"] == 401
    assert first["route"] == "/users/{username}"
    assert first["message"].startswith("GET /users/someone 401")
    assert re.match(r"\d{4}-\d\d-\d\dT", first["time"])


async def test_readable_log_lines_carry_the_request_id(
    api: Api, log_stream: Callable[[bool], io.StringIO]
) -> None:
    stream = log_stream(False)
    await api.client.get("/health", headers={"X-Request-ID": "plain-7"})
    line = stream.getvalue().strip().splitlines()[-1]
    assert "[plain-7] gateway.access: GET /health 200" in line


def test_served_process_logs_json_with_request_ids(
    serve: Callable[..., Server], settings: Settings
) -> None:
    import httpx

    server = serve(server_env(settings.database_url, GATEWAY_LOG_JSON="true"))
    httpx.get(f"{server.url}/health", headers={"X-Request-ID": "served-1"})
    server.proc.terminate()
    server.proc.wait(timeout=30)
    lines = [json.loads(line) for line in server.output().splitlines() if line.startswith("{")]
    assert any(
        line["logger"] == "gateway.access" and line["request_id"] == "served-1" for line in lines
    ), lines
    # uvicorn's own lines go through the same formatter.
    assert any(line["logger"].startswith("uvicorn") for line in lines), lines
