"""The system's one statement: whether the database answers."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_PING = text("SELECT 1")


async def ping(db: AsyncSession) -> None:
    await db.execute(_PING)
