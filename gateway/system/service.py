"""Readiness: the rule for "the gateway can serve requests"."""

from __future__ import annotations

from gateway.db import Database
from gateway.system import repository


async def database_ready(db: Database) -> bool:
    """Whether the database answers a query now. Any failure means "not ready", never an
    error: a probe must get an answer."""
    try:
        async with db.read() as session:
            await repository.ping(session)
    except Exception:
        return False
    return True
