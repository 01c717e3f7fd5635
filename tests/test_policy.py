"""gateway/policy.py: one page-size cap (GATEWAY_MAX_PAGE_SIZE) for both faces."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from gateway.app import create_app
from gateway.config import Settings
from gateway.runtime import Gateway
from tests.conftest import Api, make_settings


@pytest.fixture
async def small_pages(
    settings: Settings, gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Api]:
    """An app configured as an operator would: GATEWAY_MAX_PAGE_SIZE=7 in the environment.
    (`gateway` is requested so that the tables are emptied after the test.)"""
    monkeypatch.setenv("GATEWAY_MAX_PAGE_SIZE", "7")
    configured = make_settings(settings.database_url, chatbot_url=settings.chatbot_url)
    assert configured.max_page_size == 7
    app = create_app(configured)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield Api(c, app.state.gateway)


def _errors(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", ())]


async def test_the_page_size_cap_changes_rest_and_graphql_together(small_pages: Api) -> None:
    api = small_pages
    token = await api.user("ana")
    headers = {"Authorization": f"Bearer {token}"}
    for path in ("/subjects", "/sessions"):
        assert (await api.client.get(f"{path}?limit=7", headers=headers)).status_code == 200
        refused = await api.client.get(f"{path}?limit=8", headers=headers)
        assert refused.status_code == 422, path
        assert refused.json()["detail"] == [
            {
                "loc": ["query", "limit"],
                "msg": "Input should be less than or equal to 7",
                "type": "less_than_equal",
            }
        ]
    assert _errors(await api.gql("{ subjects(first: 7) { nodes { id } } }", token=token)) == []
    assert _errors(await api.gql("{ subjects(first: 8) { nodes { id } } }", token=token)) == [
        "BAD_USER_INPUT"
    ]


async def test_the_openapi_document_states_the_configured_cap(small_pages: Api) -> None:
    document = (await small_pages.client.get("/openapi.json")).json()
    parameters = document["paths"]["/subjects"]["get"]["parameters"]
    limit = next(p for p in parameters if p["name"] == "limit")
    assert limit["schema"]["minimum"] == 1
    assert limit["schema"]["maximum"] == 7


async def test_a_page_above_the_default_cap_is_refused_by_default(api: Api) -> None:
    token = await api.user("ana")
    headers = {"Authorization": f"Bearer {token}"}
    assert (await api.client.get("/subjects?limit=100", headers=headers)).status_code == 200
    assert (await api.client.get("/subjects?limit=101", headers=headers)).status_code == 422
    assert (await api.client.get("/subjects?limit=x", headers=headers)).status_code == 422
