"""A second app in production configuration, over the same test database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from gateway.app import create_app
from gateway.config import Settings
from tests.conftest import make_settings


@pytest.fixture(scope="session")
async def prod_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    prod: Any = create_app(make_settings(settings.database_url, env="production"))
    async with LifespanManager(prod):
        transport = httpx.ASGITransport(app=prod)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c
