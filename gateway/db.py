"""Engine, sessions and the declarative base shared by every domain's models."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from anyio import CancelScope
from sqlalchemy import BigInteger, DateTime, Integer, MetaData, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, ORMExecuteState, Session
from sqlalchemy.types import TypeDecorator

from gateway.config import Settings
from gateway.observability.metrics import DB_WAITING
from gateway.statements import DriverConnection, observed

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
            pool_timeout=settings.db_pool_timeout_seconds,
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
    else:
        ping_idle_connections(engine, settings.db_ping_after_idle_seconds)
    return engine


def ping_idle_connections(engine: AsyncEngine, idle_seconds: float) -> None:
    """SQLAlchemy's pool_pre_ping, but only for connections idle longer than `idle_seconds`
    (HikariCP's alive-bypass window does the same). pool_pre_ping costs a round trip on every
    checkout: 17 % of the CPU of a one-statement request in the benchmark. A connection
    returned a moment ago is as good as a ping; one that sat idle is tested, and a dead one is
    replaced before the request uses it (the pool retries on DisconnectionError)."""
    pool = engine.sync_engine.pool
    dialect = engine.sync_engine.dialect

    def checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    def checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < idle_seconds:
            return  # new, or just returned
        try:
            alive = dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise sa_exc.DisconnectionError(str(exc)) from exc
        if not alive:
            raise sa_exc.DisconnectionError("ping failed")

    event.listen(pool, "checkin", checked_in)
    event.listen(pool, "checkout", checked_out)


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


class Admission:
    """First come, first served admission to the connection pool.

    SQLAlchemy's async pool queues waiters on an asyncio.Queue, which is not fair: a request
    that arrives while a connection is being handed to the longest waiter takes it, and the
    waiter goes back to the end of the line. Under load (64 requests on 20 connections) that
    turned a 38 ms median into a 750 ms p99. A semaphore of the pool's size in front of it is
    FIFO, so the pool itself never has waiters. Waiting is bounded like the pool's own
    checkout: after `timeout` seconds the caller gets the pool's TimeoutError (a 503)."""

    __slots__ = ("_slots", "_timeout", "waiting")

    def __init__(self, slots: int, timeout: float) -> None:
        self._slots = asyncio.Semaphore(slots)
        self._timeout = timeout
        self.waiting = 0

    async def __aenter__(self) -> None:
        if not self._slots.locked():
            await self._slots.acquire()  # returns at once: no suspension, no timer
            return
        self.waiting += 1
        DB_WAITING.inc()
        try:
            async with asyncio.timeout(self._timeout):
                await self._slots.acquire()
        except TimeoutError:
            raise sa_exc.TimeoutError(
                f"no database connection free within {self._timeout:g} s"
            ) from None
        finally:
            self.waiting -= 1
            DB_WAITING.dec()

    async def __aexit__(self, *_: object) -> None:
        self._slots.release()


class Database:
    """Owns the engine; hands out short-lived sessions (one per request or per resolver)."""

    def __init__(self, settings: Settings) -> None:
        self.engine = make_engine(settings, autocommit=True)
        # The same bound on SQLite, so both backends queue alike.
        self.admission = Admission(
            settings.db_pool_size + settings.db_max_overflow, settings.db_pool_timeout_seconds
        )
        self._on_sqlalchemy = settings.is_sqlite
        self.writer = self.engine
        if not settings.is_sqlite:  # the engine's default is autocommit (see make_engine)
            self.writer = self.engine.execution_options(isolation_level="READ COMMITTED")
        self.sessionmaker = async_sessionmaker(self.writer, expire_on_commit=False)
        # SQLite (pysqlite) already sends no BEGIN before a SELECT: same engine there.
        self.read_sessionmaker = async_sessionmaker(
            self.engine, expire_on_commit=False, sync_session_class=ReadSession
        )

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A unit of work: commits when the block succeeds, rolls back when it raises."""
        async with self.admission, self.sessionmaker() as session, session.begin():
            yield session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """Read-only work without a transaction (autocommit on PostgreSQL: no BEGIN/COMMIT round
        trips). Under READ COMMITTED a transaction gave each statement its own snapshot anyway.
        Writing through it raises ReadOnlyWrite."""
        async with self.admission, self.read_sessionmaker() as session:
            yield session

    @asynccontextmanager
    async def statements(self) -> AsyncIterator[AsyncConnection | DriverConnection]:
        """A pooled connection for gateway.statements' reads, without an ORM session (whose set-up
        and close cost more CPU than a hot statement on the driver). No transaction: autocommit
        on PostgreSQL, as read(); a Statement is always a SELECT, so nothing writes through it.
        On PostgreSQL, unless listeners observe the engine, it is the pool's connection itself
        (a DriverConnection), without SQLAlchemy's Connection around it."""
        async with self.admission:
            if self._on_sqlalchemy or observed(self.engine.sync_engine):
                async with self.engine.connect() as conn:
                    yield conn
                return
            held = await DriverConnection.checkout(self.engine)
            try:
                yield held
            finally:
                with CancelScope(shield=True):  # a cancelled caller still returns it
                    await held.close()

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[AsyncConnection]:
        """A transaction on a bare connection (SQLAlchemy Core, no ORM unit of work). A real one:
        on the autocommit engine, begin() would send no BEGIN and each statement would commit
        on its own, so a refusal could not undo what the step already wrote."""
        async with self.admission, self.writer.begin() as conn:
            yield conn

    async def dispose(self) -> None:
        await self.engine.dispose()
