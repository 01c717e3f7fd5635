"""GraphiQL at /graphql and Swagger UI at /docs in headless Chromium with no network beyond
loopback: the pages render, a query runs, and a messageAdded subscription started in GraphiQL
shows a message written meanwhile through REST /chat."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable

import httpx
from playwright.async_api import Page, expect

from tests.browser.conftest import Live, Watched
from tests.conftest import Api
from tests.sessions.conftest import seed

QUERY_EDITOR = ".graphiql-query-editor .CodeMirror"
RESPONSE = ".graphiql-response"


async def until(predicate: Callable[[], Awaitable[bool]], wait_s: float = 10.0) -> None:
    deadline = time.monotonic() + wait_s
    while not await predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def open_graphiql(watched: Watched, live: Live) -> Page:
    page = watched.page
    response = await page.goto(f"{live.url}/graphql")
    assert response is not None and response.status == 200
    assert "'self'" in (await response.header_value("content-security-policy") or "")
    await expect(page.locator(QUERY_EDITOR)).to_be_visible()
    await expect(page.locator(".graphiql-execute-button")).to_be_visible()
    return page


async def set_editor(page: Page, selector: str, text: str) -> None:
    """Replace an editor's text through CodeMirror, as pasting would (typing would be
    auto-completed and auto-closed by the editor)."""
    await page.locator(selector).evaluate("(node, text) => node.CodeMirror.setValue(text)", text)


async def set_headers(page: Page, headers: dict[str, str]) -> None:
    await page.get_by_role("button", name="Headers").click()
    editor = ".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror"
    await expect(page.locator(editor)).to_be_visible()
    await set_editor(page, editor, json.dumps(headers))


async def test_graphiql_runs_a_query_with_no_internet(
    api: Api, live: Live, watched: Watched
) -> None:
    token = await api.user("ana")
    page = await open_graphiql(watched, live)
    await set_headers(page, {"Authorization": f"Bearer {token}"})
    await set_editor(page, QUERY_EDITOR, "{ me { username role } systemInfo { version } }")
    await page.locator(".graphiql-execute-button").click()
    response = page.locator(RESPONSE)
    await expect(response).to_contain_text('"username": "ana"')
    await expect(response).to_contain_text('"version": "9.9.9"')  # the stub tutor's
    assert watched.blocked == []
    assert watched.errors == []
    assert watched.csp_violations == []


async def test_graphiql_subscription_shows_a_message_sent_through_rest(
    api: Api, live: Live, watched: Watched, stub: object
) -> None:
    token = await api.user("ana")
    await api.user("prof")
    await seed_subject(api)
    first = await rest_chat(live, token, "browser-1", "primera")
    assert first.status_code == 200, first.text

    page = await open_graphiql(watched, live)
    await set_headers(page, {"Authorization": f"Bearer {token}"})
    await set_editor(
        page,
        QUERY_EDITOR,
        'subscription { messageAdded(sessionId: "browser-1") { sessionId role content } }',
    )
    await page.locator(".graphiql-execute-button").click()

    async def subscribed() -> bool:
        return live.gateway.broker.subscribers("session:browser-1") == 1

    await until(subscribed)
    sent = await rest_chat(live, token, "browser-1", "hola desde REST")
    assert sent.status_code == 200, sent.text
    response = page.locator(RESPONSE)
    await expect(response).to_contain_text('"messageAdded"')
    await expect(response).to_contain_text("hola desde REST")
    assert watched.blocked == []
    assert watched.errors == []
    assert watched.csp_violations == []


async def test_swagger_ui_lists_the_operations_with_no_internet(
    live: Live, watched: Watched
) -> None:
    page = watched.page
    response = await page.goto(f"{live.url}/docs")
    assert response is not None and response.status == 200
    operations = page.locator(".opblock-summary-path")
    await expect(operations.filter(has_text="/users/me").first).to_be_visible()
    assert await operations.count() > 10
    assert watched.blocked == []
    assert watched.errors == []


async def seed_subject(api: Api) -> None:
    """INF001 taught by prof, with ana enrolled (the chat fixtures' world, minus others)."""
    for name in ("bob", "carl"):
        await api.user(name)
    await seed(api.gateway)


async def rest_chat(live: Live, token: str, session_id: str, content: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=live.url, timeout=10) as client:
        return await client.post(
            "/chat",
            json={"id": session_id, "asignatura": "INF001", "content": content},
            headers={"Authorization": f"Bearer {token}"},
        )
