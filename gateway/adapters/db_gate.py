"""Admission to the database for the chat flow.

A burst of chats would otherwise queue on the connection pool, whose checkout timeout turns
a long queue into 503s and starves every other endpoint. Chats instead wait (FIFO, no
timeout: the upstream call has its own budget) for one of `limit` slots, leaving the rest of
the pool to the other endpoints."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from gateway.db import Database


class GatedDatabase:
    def __init__(self, db: Database, limit: int) -> None:
        self.db = db
        self._slots = asyncio.Semaphore(limit)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        async with self._slots, self.db.transaction() as session:
            yield session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self._slots, self.db.read() as session:
            yield session

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[AsyncConnection]:
        """A transaction on a bare connection (SQLAlchemy Core, no ORM unit of work): the
        chat hot path, where the ORM session was half of the gateway's CPU per chat."""
        async with self._slots, self.db.connect() as conn:
            yield conn
