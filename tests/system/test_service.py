"""Readiness, called directly: the database answers, or the probe says so without raising."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.runtime import Gateway
from gateway.system import repository, service


async def test_ready_when_the_database_answers(gateway: Gateway) -> None:
    assert await service.database_ready(gateway.db) is True


async def test_not_ready_when_the_query_fails(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def down(db: AsyncSession) -> None:
        raise ConnectionRefusedError("database is down")

    monkeypatch.setattr(repository, "ping", down)
    assert await service.database_ready(gateway.db) is False
