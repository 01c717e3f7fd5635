"""A real browser (Debian's headless Chromium, driven by Playwright) against a real gateway on
loopback. Every request the page makes to another host is aborted and recorded, and host names
do not resolve at all, so a test passes only if the page works with no internet."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, Page, Route, async_playwright

from gateway.app import Gateway, create_app
from gateway.config import Settings
from tests.conftest import make_settings
from tests.upstream_stub import ThreadServer

CHROMIUM = os.environ.get("GATEWAY_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # Belt and braces beside the request filter: no host name but loopback resolves.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass
class Live:
    url: str
    gateway: Gateway


@pytest.fixture(scope="module")
def live(settings: Settings) -> Iterator[Live]:
    """The gateway on a real socket (uvicorn in a thread), on the tests' database."""
    app = create_app(make_settings(settings.database_url, chatbot_url=settings.chatbot_url))
    server = ThreadServer(app, lifespan="on").start()
    yield Live(server.url, app.state.gateway)
    server.stop()


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


@dataclass
class Watched:
    """A page whose off-loopback requests, script errors and CSP violations are recorded."""

    page: Page
    blocked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)


@pytest.fixture
async def watched(browser: Browser) -> AsyncIterator[Watched]:
    context = await browser.new_context()
    page = await context.new_page()
    watched = Watched(page)

    async def only_loopback(route: Route) -> None:
        if urlsplit(route.request.url).hostname in LOOPBACK:
            await route.continue_()
        else:
            watched.blocked.append(route.request.url)
            await route.abort("internetdisconnected")

    await context.route("**/*", only_loopback)
    page.on("pageerror", lambda error: watched.errors.append(str(error)))

    def console(message: object) -> None:
        text = str(getattr(message, "text", ""))
        if "Content Security Policy" in text:
            watched.csp_violations.append(text)

    page.on("console", console)
    yield watched
    await context.close()
