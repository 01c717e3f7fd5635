"""API documentation: the generated OpenAPI document, offline Swagger UI and ReDoc, and a
bounded schemathesis run over the REST face that must find no 5xx."""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from gateway.config import Settings
from gateway.users.models import Role
from tests.conftest import Api
from tests.ops.conftest import Server, server_env
from tests.upstream_stub import Stub


async def test_openapi_document_is_valid_and_generated_from_the_models(api: Api) -> None:
    r = await api.client.get("/openapi.json")
    assert r.status_code == 200
    spec = r.json()
    validate(spec)  # raises on an invalid OpenAPI 3 document
    assert spec["openapi"].startswith("3.")
    assert {"/register", "/token", "/users/me", "/health"} <= set(spec["paths"])
    schemas = spec["components"]["schemas"]
    # The handlers' own pydantic models, not a hand-written description.
    assert set(schemas["RegisterInput"]["properties"]) >= {"username", "email", "password"}
    assert set(schemas["TokenOut"]["properties"]) == {"access_token", "token_type", "expires_in"}
    assert "429" in spec["paths"]["/users/me"]["get"]["responses"]
    assert not any(p.startswith(("/docs", "/redoc", "/static")) for p in spec["paths"])


@pytest.mark.parametrize(
    ("page", "assets"),
    [
        ("/docs", ["/static/docs/swagger-ui-bundle.js", "/static/docs/swagger-ui.css"]),
        ("/redoc", ["/static/docs/redoc.standalone.js"]),
    ],
)
async def test_doc_pages_load_their_assets_from_the_gateway(
    api: Api, page: str, assets: list[str]
) -> None:
    r = await api.client.get(page)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "/openapi.json" in r.text
    for asset in [*assets, "/static/docs/favicon.png"]:
        assert f'"{asset}"' in r.text, asset
        served = await api.client.get(asset)
        assert served.status_code == 200, asset
        assert len(served.content) > 1000, asset
    # Nothing is fetched from another host (no CDN, no web fonts).
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", r.text), r.text
    assert "cdn" not in r.text.lower()


async def test_swagger_oauth2_redirect_page(api: Api) -> None:
    r = await api.client.get("/docs/oauth2-redirect")
    assert r.status_code == 200 and "oauth2" in r.text.lower()


async def _schemathesis(target: str, token: str, cwd: Path, *args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        target,
        "--max-failures",
        "5",
        "--request-timeout",
        "10",
        "--seed",
        "20261126",
        "-H",
        f"Authorization: Bearer {token}",
        *args,
        cwd=cwd,  # its cache directory goes there
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=90)
    except TimeoutError:
        proc.kill()
        raise
    report = out.decode(errors="replace")
    return f"exit={proc.returncode}\n{report}"


async def test_schemathesis_rest_no_server_error_and_responses_match_the_spec(
    api: Api, serve: Callable[..., Server], settings: Settings, stub: Stub, tmp_path: Path
) -> None:
    """Property-based run against a real server (same database, a live upstream stub), as an
    admin so that every operation is reachable: no 5xx, every status and body as documented.
    Bounded by --max-examples and a hard timeout."""
    token = await api.user("fuzzadmin", role=Role.ADMIN)
    server = serve(server_env(settings.database_url, CHATBOT_URL=stub.url))
    report = await _schemathesis(
        f"{server.url}/openapi.json",
        token,
        tmp_path,
        "--checks",
        "not_a_server_error,status_code_conformance,response_schema_conformance",
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        "10",
    )
    assert report.startswith("exit=0"), report
    tested = re.search(r"Tested: (\d+)", report)
    assert tested and int(tested.group(1)) >= 20, report
    generated = re.search(r"(\d+) generated, (\d+) passed", report)
    assert generated and generated.group(1) == generated.group(2) and int(generated.group(1)) > 50


async def test_schemathesis_graphql_finds_no_internal_error(
    api: Api, serve: Callable[..., Server], settings: Settings, stub: Stub, tmp_path: Path
) -> None:
    """Property-based run over every GraphQL field (from introspection). Schemathesis reports
    every GraphQL error as a failure (NOT_FOUND for a random id too), so the verdict is ours:
    no 5xx, no INTERNAL_SERVER_ERROR in any response, and no unexpected error in the log."""
    token = await api.user("fuzzadmin", role=Role.ADMIN)
    server = serve(server_env(settings.database_url, CHATBOT_URL=stub.url))
    report = await _schemathesis(
        f"{server.url}/graphql",
        token,
        tmp_path,
        "--checks",
        "not_a_server_error",
        "--max-examples",
        "15",
        "--max-failures",
        "200",
    )
    tested = re.search(r"Tested: (\d+)", report)
    assert tested and int(tested.group(1)) >= 20, report
    assert "INTERNAL_SERVER_ERROR" not in report and "ST101" not in report, report
    assert re.search(r"^\[5\d\d\]", report, re.M) is None, report
    log = server.output()
    assert "unexpected error" not in log and "unhandled error" not in log, log[-3000:]
