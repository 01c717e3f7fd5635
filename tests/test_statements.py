"""The statement runner (gateway/statements.py): for every registered statement, the driver
path (PostgreSQL) and SQLAlchemy's own execution return identical rows, value types included,
on a seeded database; errors and transactions behave as on SQLAlchemy's path."""

from __future__ import annotations

import asyncio
import struct
import uuid
from typing import Any

import pytest
from sqlalchemy import ColumnElement, bindparam, delete, func, select, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import QueryableAttribute

import gateway.app  # noqa: F401  (every domain's statements are registered on import)
from gateway.app import Gateway
from gateway.db import Database
from gateway.seed import seed
from gateway.statements import REGISTRY, DriverConnection, Statement
from gateway.users.models import User
from tests.conftest import StatementCounter, make_settings


def typed(rows: list[Any]) -> list[list[tuple[type, Any]]]:
    return [[(type(value), value) for value in row] for row in rows]


async def samples(conn: AsyncConnection, stmt: Statement) -> list[dict[str, Any]]:
    """Parameter sets: literal samples as given; column samples draw up to five seeded rows
    together (columns of one table come from the same row: a session's owner and its subject),
    the i-th set taking the i-th row."""
    drawn: dict[str, list[Any]] = {}
    columns = {
        name: sample
        for name, sample in stmt.sample.items()
        if isinstance(sample, ColumnElement | QueryableAttribute)
    }
    if columns:
        picked = list(columns.values())
        found = (await conn.execute(select(*picked).distinct().order_by(*picked).limit(5))).all()
        for index, name in enumerate(columns):
            drawn[name] = [row[index] for row in found]
    for name, sample in stmt.sample.items():
        if name not in columns:
            drawn[name] = [sample]
    count = max((len(v) for v in drawn.values()), default=1)
    return [{k: v[i % len(v)] for k, v in drawn.items()} for i in range(count)]


async def test_every_statement_returns_what_sqlalchemy_returns(
    gateway: Gateway, is_postgres: bool
) -> None:
    await seed(gateway.db, gateway.passwords)
    assert "users.caller" in REGISTRY
    async with gateway.db.read() as db:
        conn = await db.connection()
        for stmt in REGISTRY.values():
            seen_rows = 0
            for params in await samples(conn, stmt):
                reference = await conn.execute(stmt.select, params)
                keys = list(reference.keys())
                expected = typed(reference.all())
                got = await stmt.all(db, **params)
                assert typed(got) == expected, (stmt.name, params)
                assert all(list(row._fields) == keys for row in got), stmt.name
                if is_postgres:  # the driver path itself, even if listeners are attached
                    on_driver = await stmt._all_on_driver(conn, params)
                    assert typed(on_driver) == expected, (stmt.name, params)
                seen_rows += len(expected)
            assert seen_rows, f"{stmt.name}: its samples found no rows; the check proves nothing"


async def test_database_statements_hands_out_the_pools_connection_on_postgresql(
    gateway: Gateway, is_postgres: bool
) -> None:
    """Database.statements(): on PostgreSQL the pool's connection without SQLAlchemy's
    Connection (DriverConnection), on SQLite an AsyncConnection; the same rows either way."""
    await seed(gateway.db, gateway.passwords)
    async with gateway.db.read() as db:
        conn = await db.connection()
        cases = [
            (stmt, params) for stmt in REGISTRY.values() for params in await samples(conn, stmt)
        ]
        expected = [
            typed((await conn.execute(stmt.select, params)).all()) for stmt, params in cases
        ]
    async with gateway.db.statements() as held:
        assert isinstance(held, DriverConnection if is_postgres else AsyncConnection)
        got = [typed(await stmt.all(held, **params)) for stmt, params in cases]
    assert got == expected
    assert sum(map(len, got)) >= len(REGISTRY)


async def test_a_cancelled_holder_returns_the_connection(gateway: Gateway) -> None:
    pool = gateway.db.engine.sync_engine.pool
    before = pool.checkedout()  # type: ignore[attr-defined]
    holding = asyncio.Event()

    async def hold() -> None:
        async with gateway.db.statements() as conn:
            await REGISTRY["users.caller"].all(conn, user_id=uuid.uuid4())
            holding.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(hold())
    await holding.wait()
    assert pool.checkedout() == before + 1  # type: ignore[attr-defined]
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert pool.checkedout() == before  # type: ignore[attr-defined]


async def test_one_or_none_and_scalar(gateway: Gateway) -> None:
    await seed(gateway.db, gateway.passwords)
    caller = REGISTRY["users.caller"]
    async with gateway.db.read() as db:
        ids = list(await db.scalars(select(User.id)))
        row = await caller.one_or_none(db, user_id=ids[0])
        assert row is not None and row.id == ids[0] and row._asdict()["id"] == ids[0]
        assert await caller.one_or_none(db, user_id=uuid.uuid4()) is None
        assert await caller.scalar(db, user_id=ids[0]) == ids[0]


FAILING = Statement(
    select(func.gateway_no_such_function(bindparam("d"))), name="test.failing", register=False
)


async def test_a_failing_statement_raises_what_sqlalchemy_raises(gateway: Gateway) -> None:
    async with gateway.db.read() as db:
        conn = await db.connection()
        with pytest.raises(sa_exc.DBAPIError) as reference:
            await conn.execute(FAILING.select, {"d": 0})
    async with gateway.db.read() as db:
        with pytest.raises(sa_exc.DBAPIError) as got:
            await FAILING.all(db, d=0)
    async with gateway.db.statements() as held_conn:
        with pytest.raises(sa_exc.DBAPIError) as held:
            await FAILING.all(held_conn, d=0)
    async with gateway.db.read() as db:  # the pool's connection is usable afterwards
        assert await REGISTRY["users.caller"].one_or_none(db, user_id=uuid.uuid4()) is None
    async with gateway.db.statements() as held_conn:
        caller = REGISTRY["users.caller"]
        assert await caller.one_or_none(held_conn, user_id=uuid.uuid4()) is None
    for raised in (got.value, held.value):
        assert type(raised) is type(reference.value)
        assert type(raised.orig) is type(reference.value.orig)
        assert raised.connection_invalidated is reference.value.connection_invalidated
        assert str(raised) == str(reference.value)


async def test_a_dropped_connection_is_invalidated_as_sqlalchemy_does(
    gateway: Gateway, is_postgres: bool
) -> None:
    """The server ends the connection under a held DriverConnection: the same DBAPIError as
    SQLAlchemy's path raises (connection_invalidated), and the pool replaces the connection."""
    caller = REGISTRY["users.caller"]
    if not is_postgres:  # SQLite has no server to drop it: the SQLAlchemy path is the only one
        async with gateway.db.statements() as conn:
            assert isinstance(conn, AsyncConnection)
        return
    pool = gateway.db.engine.sync_engine.pool
    before = pool.checkedout()  # type: ignore[attr-defined]
    raised = []
    for opened in (gateway.db.read, gateway.db.statements):
        async with opened() as db:
            conn = await db.connection() if isinstance(db, AsyncSession) else db
            pid = await _backend_pid(conn)
            async with gateway.db.engine.connect() as killer:  # waits until it has exited
                await killer.execute(text("SELECT pg_terminate_backend(:p, 5000)"), {"p": pid})
            await _until_closed(conn)
            with pytest.raises(sa_exc.DBAPIError) as error:
                await caller.all(db, user_id=uuid.uuid4())
            raised.append(error.value)
    assert [e.connection_invalidated for e in raised] == [True, True]
    assert type(raised[0].orig) is type(raised[1].orig)
    async with gateway.db.statements() as conn:  # a new connection, not the dropped one
        assert await caller.one_or_none(conn, user_id=uuid.uuid4()) is None
    assert pool.checkedout() == before  # type: ignore[attr-defined]  # each returned once


async def _until_closed(conn: AsyncConnection | DriverConnection) -> None:
    """Until the driver has seen the server close the socket (a dropped idle connection, not
    one caught mid-termination, whose error depends on timing)."""
    fairy = conn.fairy if isinstance(conn, DriverConnection) else await conn.get_raw_connection()
    driver: Any = fairy.dbapi_connection
    async with asyncio.timeout(5):
        while not driver._connection.is_closed():  # noqa: ASYNC110  (another peer's state)
            await asyncio.sleep(0.01)


async def _backend_pid(conn: AsyncConnection | DriverConnection) -> int:
    pid = Statement(select(func.pg_backend_pid()), name="test.pid", register=False)
    found: int = await pid.scalar(conn)
    return found


async def test_reads_run_inside_the_sessions_transaction(gateway: Gateway) -> None:
    await seed(gateway.db, gateway.passwords)
    caller = REGISTRY["users.caller"]
    with pytest.raises(RuntimeError):
        async with gateway.db.transaction() as db:
            user = await db.scalar(select(User).limit(1))
            assert user is not None
            user.full_name = "Changed In Transaction"
            await db.flush()
            row = await caller.one_or_none(db, user_id=user.id)
            assert row.full_name == "Changed In Transaction"  # same transaction sees it
            user_id = user.id
            raise RuntimeError("roll back")
    async with gateway.db.read() as db:
        row = await caller.one_or_none(db, user_id=user_id)
        assert row.full_name != "Changed In Transaction"


def test_statements_are_selects_with_unique_names() -> None:
    with pytest.raises(TypeError):
        Statement(delete(User), name="test.delete", register=False)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="already registered"):
        Statement(select(User.id), name="users.caller")


async def test_cursor_listeners_see_the_runners_statements(
    gateway: Gateway, sql_counter: StatementCounter
) -> None:
    """Tracing's SQL spans and the statement counter listen for cursor executions: with a
    listener attached the runner takes SQLAlchemy's path, so nothing runs unobserved."""
    caller = REGISTRY["users.caller"]
    async with gateway.db.statements() as conn:
        assert isinstance(conn, AsyncConnection)  # the pool's connection would go unobserved
        assert await caller.one_or_none(conn, user_id=uuid.uuid4()) is None
    assert sql_counter.count == 1 and "FROM users" in sql_counter.statements[0]


async def test_a_refused_connection_raises_what_the_engine_raises() -> None:
    """Checking out a DriverConnection fails as Engine.connect() does: a server that refuses
    the connection (PostgreSQL shutting down) is SQLAlchemy's DBAPIError, which the error
    mapping turns into a 503, not the driver's own exception (a 500). Both legs run it: the
    server is a stub that answers every startup with PostgreSQL's error message."""
    server = await asyncio.start_server(_shutting_down, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    db = Database(make_settings(f"postgresql+asyncpg://postgres@127.0.0.1:{port}/none"))
    try:
        with pytest.raises(sa_exc.DBAPIError) as reference:
            async with db.engine.connect():
                pass
        with pytest.raises(sa_exc.DBAPIError) as got:
            async with db.statements() as conn:
                assert isinstance(conn, DriverConnection)
        assert type(got.value) is type(reference.value)
        assert type(got.value.orig) is type(reference.value.orig)
        assert "shutting down" in str(got.value)
    finally:
        await db.dispose()
        server.close()
        await server.wait_closed()


async def _shutting_down(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """PostgreSQL's answer to a startup while it shuts down (SQLSTATE 57P03)."""
    while True:
        (length,) = struct.unpack("!I", await reader.readexactly(4))
        (code,) = struct.unpack("!I", (await reader.readexactly(length - 4))[:4])
        if code != 80877103:  # not the SSL request (answered "no"): the startup message
            break
        writer.write(b"N")
    fields = b"SFATAL\0VFATAL\0C57P03\0Mthe database system is shutting down\0\0"
    writer.write(b"E" + struct.pack("!I", len(fields) + 4) + fields)
    await writer.drain()
    writer.close()
