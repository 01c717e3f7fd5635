"""Engine, sessions and the declarative base shared by every domain's models."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer, MetaData, event
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, ORMExecuteState, Session
from sqlalchemy.types import TypeDecorator

from gateway.config import Settings

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments INTEGER PRIMARY KEY columns.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite hands back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()


def make_engine(settings: Settings, *, autocommit: bool = False) -> AsyncEngine:
    url = settings.database_url
    kwargs: dict[str, Any] = {}
    if settings.is_sqlite:
        kwargs["connect_args"] = {"timeout": 5}
    else:
        kwargs.update(
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_pre_ping=settings.db_pool_pre_ping,
            pool_timeout=5,
            connect_args={
                "timeout": 5,
                "command_timeout": max(settings.db_statement_timeout_ms / 1000 + 5, 10),
                "server_settings": {
                    "statement_timeout": str(settings.db_statement_timeout_ms),
                    "application_name": "study-gateway",
                },
            },
        )
        if autocommit:
            # Connections idle in autocommit: reads send no BEGIN/COMMIT, and asyncpg's
            # pre-ping is one `;` instead of BEGIN; `;`; ROLLBACK (3 round trips). Database
            # .transaction() switches a connection to READ COMMITTED while it holds it.
            kwargs["isolation_level"] = "AUTOCOMMIT"
    engine = create_async_engine(url, **kwargs)
    if settings.is_sqlite:
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


class ReadOnlyWrite(RuntimeError):
    """A write was attempted through Database.read(): a bug, never a client error."""


class ReadSession(Session):
    """The session of Database.read(): it refuses to flush or execute DML."""


@event.listens_for(ReadSession, "before_flush")
def _no_flush(session: Session, *_: Any) -> None:
    raise ReadOnlyWrite("Database.read() sessions cannot write; use Database.transaction()")


@event.listens_for(ReadSession, "do_orm_execute")
def _no_dml(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        raise ReadOnlyWrite("Database.read() sessions cannot write; use Database.transaction()")


class Database:
    """Owns the engine; hands out short-lived sessions (one per request or per resolver)."""

    def __init__(self, settings: Settings) -> None:
        self.engine = make_engine(settings, autocommit=True)
        writer = self.engine
        if not settings.is_sqlite:  # the engine's default is autocommit (see make_engine)
            writer = self.engine.execution_options(isolation_level="READ COMMITTED")
        self.sessionmaker = async_sessionmaker(writer, expire_on_commit=False)
        # SQLite (pysqlite) already sends no BEGIN before a SELECT: same engine there.
        self.read_sessionmaker = async_sessionmaker(
            self.engine, expire_on_commit=False, sync_session_class=ReadSession
        )

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A unit of work: commits when the block succeeds, rolls back when it raises."""
        async with self.sessionmaker() as session, session.begin():
            yield session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """Read-only work without a transaction (autocommit on PostgreSQL: no BEGIN/COMMIT round
        trips). Under READ COMMITTED a transaction gave each statement its own snapshot anyway.
        Writing through it raises ReadOnlyWrite."""
        async with self.read_sessionmaker() as session:
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
