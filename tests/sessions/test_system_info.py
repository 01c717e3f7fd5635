"""GET /system/info and systemInfo: the upstream's description, or the documented fallback."""

from __future__ import annotations

from tests.conftest import Api
from tests.sessions.conftest import AltApp
from tests.upstream_stub import Stub, free_port

FALLBACK = {
    "version": "unknown",
    "llm_provider": "Unknown",
    "llm_model": "Unknown",
    "status": "unavailable",
}


async def test_system_info_proxies_the_upstream(api: Api, stub: Stub) -> None:
    r = await api.client.get("/system/info")
    assert r.status_code == 200
    assert r.json() == {
        "version": "9.9.9",
        "llm_provider": "Gemini",
        "llm_model": "stub",
        "status": "ok",
    }
    body = await api.gql("{ systemInfo { version llmProvider llmModel status } }")
    assert body["data"]["systemInfo"] == {
        "version": "9.9.9",
        "llmProvider": "Gemini",
        "llmModel": "stub",
        "status": "ok",
    }


async def test_system_info_falls_back_when_the_upstream_fails(api: Api, stub: Stub) -> None:
    stub.mode = "html500"
    r = await api.client.get("/system/info")
    assert r.status_code == 200 and r.json() == FALLBACK


async def test_system_info_falls_back_when_unreachable(alt_app: AltApp) -> None:
    async with alt_app(chatbot_url=f"http://127.0.0.1:{free_port()}") as client:
        r = await client.get("/system/info")
        assert r.status_code == 200 and r.json() == FALLBACK
        gql = await client.post("/graphql", json={"query": "{ systemInfo { status } }"})
        assert gql.json()["data"]["systemInfo"] == {"status": "unavailable"}
