"""One runner for the hot read statements: SQLAlchemy Core built once, run on the driver.

A `Statement` wraps a Core SELECT built at import time. Executed through SQLAlchemy's async
engine, one statement costs several times the CPU of the statement on bare asyncpg (result
machinery, execution context, greenlet hops). On PostgreSQL the runner therefore compiles each
statement once per dialect (positional `$n` parameters) and runs it on the session's own pooled
asyncpg connection, through the adapter's prepared statement cache, inside the session's current
transaction. So the pool, the admission gate (the session came from Database.read/transaction),
the statement timeout (a server setting of the connection) and asyncpg's command timeout are
those of the SQLAlchemy path; driver errors are handed to SQLAlchemy's own error handling
(wrapping, disconnect detection, invalidation), so callers see the same DBAPIError. A read
that needs nothing else (the caller's, on both faces) takes a `DriverConnection` from
Database.statements(): the pool's connection without SQLAlchemy's Connection object around it,
checked out, returned and, on failure, handled by SQLAlchemy as Engine.connect() would.

SQLAlchemy's path is taken instead on SQLite, and whenever cursor-execute listeners are attached
to the engine (OpenTelemetry's SQL spans, the tests' statement counter): they observe every
statement. Results are named tuples with Row's attribute, index and `_asdict()` access; column
types that post-process values (UTCDateTime, ...) go through SQLAlchemy's own result processors.

Every Statement registers itself in REGISTRY with sample parameters, and
tests/test_statements.py checks that both paths return identical rows for each one.

This module reaches into the asyncpg adapter (`_execute_mutex`, `_start_transaction`,
`_prepare`, `_handle_exception`) and the compiler: both are pinned by the lock file, and the
equivalence test fails if an upgrade changes them.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.util import greenlet_spawn

# A named tuple per statement (attribute, index and _asdict() access, like Row).
Record = Any
Processor = Callable[[Any], Any] | None

REGISTRY: dict[str, Statement] = {}


class DriverConnection:
    """A pooled PostgreSQL connection held without SQLAlchemy's Connection around it (what
    Database.statements() hands out when nothing observes the engine): the runner's statements
    go to its asyncpg connection. Checkout, checkin, the idle ping and invalidation are the
    pool's own; only the Connection object, about a quarter of a hot read's CPU, is skipped."""

    __slots__ = ("dialect", "engine", "fairy")

    def __init__(self, engine: AsyncEngine, fairy: PoolProxiedConnection) -> None:
        self.engine = engine
        self.dialect = engine.dialect
        self.fairy = fairy

    @classmethod
    async def checkout(cls, engine: AsyncEngine) -> DriverConnection:
        """Checked out as Engine.connect() does: a failure to connect goes through SQLAlchemy's
        handling (DBAPIError, the pool invalidated on a disconnect), as on the engine's path."""
        sync_engine = engine.sync_engine

        def checkout() -> PoolProxiedConnection:
            try:
                return sync_engine.raw_connection()
            except sync_engine.dialect.loaded_dbapi.Error as error:
                Connection._handle_dbapi_exception_noconnection(
                    error, sync_engine.dialect, sync_engine
                )
                raise

        return cls(engine, await greenlet_spawn(checkout))

    async def close(self) -> None:
        await greenlet_spawn(self.fairy.close)


Runnable = AsyncSession | AsyncConnection | DriverConnection


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    param_names: tuple[str, ...]
    defaults: dict[str, Any]
    bind_processors: tuple[Processor, ...]
    result_processors: tuple[Processor, ...]


class Statement:
    """A named, registered SELECT. `sample` gives the equivalence test parameters: a literal
    value, or a column (`User.id`) whose values in the seeded database the test draws."""

    __slots__ = ("_compiled", "_record", "name", "sample", "select")

    def __init__(
        self,
        select: Select[Any],
        *,
        name: str,
        sample: Mapping[str, Any] | None = None,
        register: bool = True,
    ) -> None:
        if not isinstance(select, Select):
            raise TypeError("Statement runs SELECTs only: writes stay on the session")
        if register and name in REGISTRY:
            raise ValueError(f"statement {name!r} is already registered")
        self.name = name
        self.select = select
        self.sample = dict(sample or {})
        keys = list(select.selected_columns.keys())
        self._record: Any = namedtuple("Record", keys, rename=True)  # type: ignore[misc]
        self._compiled: dict[type[Dialect], _Compiled] = {}
        if register:
            REGISTRY[name] = self

    def __repr__(self) -> str:
        return f"Statement({self.name!r})"

    async def all(self, db: Runnable, **params: Any) -> list[Record]:
        if isinstance(db, DriverConnection):
            return await self._all_on_driver(db, params)
        conn = await db.connection() if isinstance(db, AsyncSession) else db
        if conn.dialect.name != "postgresql" or observed(conn.sync_engine):
            return await self.all_via_sqlalchemy(conn, **params)
        return await self._all_on_driver(conn, params)

    async def one_or_none(self, db: Runnable, **params: Any) -> Any:
        rows = await self.all(db, **params)
        if len(rows) > 1:
            raise ValueError(f"{self.name}: more than one row")
        return rows[0] if rows else None

    async def scalar(self, db: Runnable, **params: Any) -> Any:
        rows = await self.all(db, **params)
        return rows[0][0] if rows else None

    async def all_via_sqlalchemy(self, conn: AsyncConnection, **params: Any) -> list[Record]:
        """SQLAlchemy's own execution (SQLite, observed engines, and the test's reference)."""
        result = await conn.execute(self.select, params)
        make = self._record._make
        return [make(row) for row in result]

    async def _all_on_driver(
        self, conn: AsyncConnection | DriverConnection, params: Mapping[str, Any]
    ) -> list[Record]:
        dialect = conn.dialect
        compiled = self._compiled.get(type(dialect)) or self._compile(dialect)
        values = {**compiled.defaults, **params} if compiled.defaults else params
        args = [
            value if process is None else process(value)
            for value, process in zip(
                (values[name] for name in compiled.param_names),
                compiled.bind_processors,
                strict=True,
            )
        ]
        fairy = await _fairy(conn)
        adapted: Any = fairy.dbapi_connection
        try:
            async with adapted._execute_mutex:
                if adapted._transaction is None:  # as the adapter's cursor does; a no-op
                    await adapted._start_transaction()  # on an autocommit connection
                try:
                    prepared, _ = await adapted._prepare(
                        compiled.sql,
                        dialect._invalidate_schema_cache_asof,  # type: ignore[attr-defined]
                    )
                    rows = await prepared.fetch(*args)
                except Exception as error:
                    adapted._handle_exception(error)  # the adapter's DBAPI exception
        except Exception as error:
            await _reraise_as_sqlalchemy(conn, error, compiled.sql, args)
            raise  # not reached: SQLAlchemy's handler always raises
        make = self._record._make
        processors = compiled.result_processors
        if not any(processors):
            return [make(row) for row in rows]
        return [
            make([v if p is None else p(v) for v, p in zip(row, processors, strict=True)])
            for row in rows
        ]

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled: Any = self.select.compile(dialect=dialect)
        if compiled.literal_execute_params or compiled.post_compile_params:
            raise TypeError(f"{self.name}: expanding/literal parameters are not supported")
        names = tuple(compiled.positiontup or ())
        binds = compiled._bind_processors
        result_types = [entry[3] for entry in compiled._result_columns]
        entry = _Compiled(
            sql=compiled.string,
            param_names=names,
            # Values bound in the statement itself (`col == 5`); the caller's override them.
            defaults=compiled.construct_params(_check=False),
            bind_processors=tuple(binds.get(name) for name in names),
            result_processors=tuple(
                type_._cached_result_processor(dialect, None) for type_ in result_types
            ),
        )
        self._compiled[type(dialect)] = entry
        return entry


async def _fairy(conn: AsyncConnection | DriverConnection) -> PoolProxiedConnection:
    if isinstance(conn, DriverConnection):
        return conn.fairy
    sync = conn.sync_connection
    if sync is not None and not sync.closed and not sync.invalidated:
        return sync.connection  # held already: no greenlet hop to fetch it
    return await conn.get_raw_connection()


def observed(engine: Engine) -> bool:
    """Whether cursor-execute listeners watch this engine (the driver path would hide
    statements from them). The engine's own listener lists are read: a Connection's joined
    view of them builds new objects on every access."""
    dispatch = engine.dispatch
    return bool(dispatch.before_cursor_execute or dispatch.after_cursor_execute)


async def _reraise_as_sqlalchemy(
    conn: AsyncConnection | DriverConnection, error: Exception, sql: str, args: Sequence[Any]
) -> None:
    """SQLAlchemy's handling of a failed execution: wrap in DBAPIError, detect a disconnect,
    invalidate the connection. Run in SQLAlchemy's greenlet, where its sync code may await. A
    DriverConnection's fairy is wrapped in a Connection for it (which checks nothing out)."""

    def handle(sync: Connection) -> None:
        sync._handle_dbapi_exception(error, sql, tuple(args), None, None)

    if isinstance(conn, AsyncConnection):
        await conn.run_sync(handle)
        return
    engine, fairy = conn.engine.sync_engine, conn.fairy
    await greenlet_spawn(lambda: handle(Connection(engine, connection=fairy)))
