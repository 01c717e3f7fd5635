"""1,000 concurrent chats through the gateway to a tutor that takes 2 s, on PostgreSQL.

Prints the client-observed latency, the upstream's own latency and the gateway's added
latency (client minus upstream, per request), the peak number of database connections the
gateway held while the chats waited, and the latency of a DB-backed endpoint meanwhile.
Exits non-zero on any error. Usage: python bench/chat/run.py [--chats 1000] [--delay 2]"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
import httpx
import orjson
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from gateway import migrate
from gateway.auth.tokens import Tokens
from gateway.config import Settings
from gateway.db import Database
from gateway.sessions.models import Message
from gateway.subjects.models import Enrollment, Subject
from gateway.users.models import User

ROOT = Path(__file__).resolve().parents[2]
SECRET = "bench-secret-" + "x" * 40


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and all its descendants (uvicorn workers), from /proc."""
    total = 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                total += cpu_seconds(int(child))
    except (FileNotFoundError, ProcessLookupError):
        pass
    return total


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def ms(values: list[float]) -> str:
    return (
        f"p50 {pct(values, 50) * 1000:8.1f} ms   p99 {pct(values, 99) * 1000:8.1f} ms   "
        f"max {max(values) * 1000:8.1f} ms"
    )


async def create_database(base: str) -> tuple[str, str]:
    url = make_url(base)
    name = f"gw_bench_{uuid.uuid4().hex[:10]}"
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(admin)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    return url.set(database=name).render_as_string(hide_password=False), admin


async def drop_database(admin: str, db_url: str) -> None:
    conn = await asyncpg.connect(admin)
    await conn.execute(f'DROP DATABASE IF EXISTS "{make_url(db_url).database}" WITH (FORCE)')
    await conn.close()


async def seed(settings: Settings, students: int) -> list[str]:
    db = Database(settings)
    tokens = Tokens(settings)
    users = [
        User(
            username=f"student{i:04d}",
            email=f"student{i:04d}@example.com",
            hashed_password="!unusable",
            role="STUDENT",
        )
        for i in range(students)
    ]
    async with db.transaction() as session:
        session.add(Subject(id="INF001", name="Algorithms"))
        session.add_all(users)
        await session.flush()
        session.add_all([Enrollment(student_id=u.id, subject_id="INF001") for u in users])
    await db.dispose()
    return [
        tokens.issue(user_id=u.id, username=u.username, role="STUDENT", subjects=["INF001"])
        for u in users
    ]


async def raw_post(port: int, path: str, body: bytes, token: str) -> int:
    """A minimal HTTP/1.1 client (one connection per request) so the load generator's own
    connection pool does not become the bottleneck being measured."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    writer.write(head.encode() + body)
    await writer.drain()
    response = await reader.read()
    writer.close()
    return int(response.split(b" ", 2)[1])


async def wait_healthy(url: str) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(300):
            try:
                if (await client.get(url)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} never became healthy")


async def sample_connections(
    admin_dsn: str, db_name: str, stop: asyncio.Event
) -> tuple[int, dict[str, int]]:
    """Peak connections the gateway held, and what its connections were doing when sampled
    (state or wait event): shows whether chats queue inside PostgreSQL or in the gateway."""
    conn = await asyncpg.connect(admin_dsn)
    peak = 0
    seen: dict[str, int] = {}
    try:
        while not stop.is_set():
            rows = await conn.fetch(
                "SELECT state, wait_event_type, wait_event FROM pg_stat_activity "
                "WHERE datname = $1 AND application_name = 'study-gateway'",
                db_name,
            )
            peak = max(peak, len(rows))
            for row in rows:
                what = row["state"] or "?"
                if row["wait_event_type"] and row["wait_event_type"] != "Client":
                    what += f" waiting {row['wait_event_type']}:{row['wait_event']}"
                seen[what] = seen.get(what, 0) + 1
            await asyncio.sleep(0.05)
    finally:
        await conn.close()
    return peak, seen


async def probe(client: httpx.AsyncClient, stop: asyncio.Event) -> list[tuple[float, int]]:
    times: list[tuple[float, int]] = []
    while not stop.is_set():
        started = time.perf_counter()
        r = await client.get("/health/ready")
        times.append((time.perf_counter() - started, r.status_code))
        await asyncio.sleep(0.1)
    return times


async def bench(args: argparse.Namespace) -> int:
    db_url, admin = await create_database(args.database_url)
    settings = Settings(env="test", database_url=db_url, jwt_secret=SECRET, auto_migrate=False)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        await migrate.upgrade(settings)
        # One student per chat plus one for the warm-up: the per-user chat rate limit (on, as
        # in production) then counts one chat per user, as 1,000 real students would.
        tokens = await seed(settings, args.chats + 1)
        up_port, gw_port = free_port(), free_port()
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        procs.append(
            subprocess.Popen(  # noqa: ASYNC220
                [
                    sys.executable,
                    str(ROOT / "bench/chat/upstream.py"),
                    "--port",
                    str(up_port),
                    "--delay",
                    str(args.delay),
                ],
                env=env,
            )
        )
        gw_env = {
            **env,
            "GATEWAY_ENV": "test",
            "GATEWAY_DATABASE_URL": db_url,
            "GATEWAY_JWT_SECRET": SECRET,
            "GATEWAY_AUTO_MIGRATE": "false",
            "CHATBOT_URL": f"http://127.0.0.1:{up_port}",
            "GATEWAY_CHATBOT_MAX_CONNECTIONS": str(args.chats),
            "GATEWAY_DB_POOL_SIZE": str(args.pool),
            "GATEWAY_CHAT_DB_SLOTS": str(args.chat_slots),
            **({"PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp()} if args.workers > 1 else {}),
        }
        procs.append(
            subprocess.Popen(  # noqa: ASYNC220
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "gateway.app:create_app",
                    "--factory",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(gw_port),
                    "--log-level",
                    "warning",
                    "--backlog",
                    "4096",
                    "--workers",
                    str(args.workers),
                ],
                env=gw_env,
            )
        )
        base = f"http://127.0.0.1:{gw_port}"
        await wait_healthy(f"http://127.0.0.1:{up_port}/system/info")
        await wait_healthy(base + "/health/ready")

        limits = httpx.Limits(
            max_connections=args.chats + 10, max_keepalive_connections=args.chats + 10
        )
        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as client:
            # warm-up: one chat opens the pools and fills the caches
            r = await client.post(
                "/chat",
                json={"id": "warmup", "asignatura": "INF001", "content": "hola"},
                headers={"Authorization": f"Bearer {tokens[-1]}"},
            )
            assert r.status_code == 200, r.text

            async def one(i: int) -> tuple[str, int, float, float, float]:
                await asyncio.sleep(args.ramp * i / args.chats)
                session_id = f"bench-{i}"
                body = orjson.dumps(
                    {"id": session_id, "asignatura": "INF001", "content": f"¿Pregunta número {i}?"}
                )
                started, sent = time.perf_counter(), time.time()
                status = await raw_post(gw_port, "/chat", body, tokens[i])
                return session_id, status, time.perf_counter() - started, sent, time.time()

            stop = asyncio.Event()
            sampler = asyncio.create_task(
                sample_connections(admin, make_url(db_url).database or "", stop)
            )
            prober = asyncio.create_task(probe(client, stop))
            cpu_before = [cpu_seconds(p.pid) for p in procs] + [time.process_time()]
            wall = time.perf_counter()
            results = await asyncio.gather(
                *(one(i) for i in range(args.chats)), return_exceptions=True
            )
            wall = time.perf_counter() - wall
            cpu_after = [cpu_seconds(p.pid) for p in procs] + [time.process_time()]
            stop.set()
            (peak_conns, db_states), probes = await sampler, await prober
            stats = (await client.get(f"http://127.0.0.1:{up_port}/stats")).json()

        errors = [r for r in results if isinstance(r, BaseException) or r[1] != 200]
        ok = [r for r in results if not isinstance(r, BaseException) and r[1] == 200]
        client_lat = [r[2] for r in ok]
        timed = [r for r in ok if r[0] in stats]
        upstream_lat = [stats[r[0]][0] for r in timed]
        added = [r[2] - stats[r[0]][0] for r in timed]
        before = [stats[r[0]][1] - r[3] for r in timed]
        after = [r[4] - stats[r[0]][2] for r in timed]

        db = Database(settings)
        async with db.read() as session:
            stored = await session.scalar(
                select(func.count(Message.id)).where(
                    Message.session_id.like("bench-%"), Message.status.in_(("answered", "ok"))
                )
            )
        await db.dispose()

        print(
            f"\n{args.chats} concurrent chats, upstream delay {args.delay:g} s, "
            f"ramp {args.ramp:g} s, PostgreSQL, {args.workers} gateway worker(s), "
            f"pool {args.pool}+{settings.db_max_overflow}"
        )
        print(
            f"errors: {len(errors)}   wall time: {wall:.2f} s   "
            f"messages stored: {stored} (expected {2 * args.chats})"
        )
        if client_lat:
            print(f"client latency   {ms(client_lat)}")
            print(f"upstream's own   {ms(upstream_lat)}")
            print(f"gateway added    {ms(added)}   mean {statistics.mean(added) * 1000:.1f} ms")
            print(f"  before upstream {ms(before)}")
            print(f"  after upstream  {ms(after)}")
        cpu = [after - before for before, after in zip(cpu_before, cpu_after, strict=True)]
        print(
            f"CPU during the burst: gateway {cpu[1]:.2f} s "
            f"({cpu[1] / args.chats * 1000:.1f} ms per chat), tutor stub {cpu[0]:.2f} s, "
            f"load generator {cpu[2]:.2f} s"
        )
        print(f"peak DB connections held by the gateway during the run: {peak_conns}")
        samples = sum(db_states.values()) or 1
        print(
            "gateway's DB connections, share of samples: "
            + ", ".join(
                f"{what} {n / samples:.0%}"
                for what, n in sorted(db_states.items(), key=lambda kv: -kv[1])
            )
        )
        if probes:
            failed = sum(1 for _, status in probes if status != 200)
            print(
                f"GET /health/ready meanwhile ({len(probes)} probes, {failed} not 200): "
                f"{ms([t for t, _ in probes])}"
            )
        for e in errors[:5]:
            print("error:", e)
        return 1 if errors or stored != 2 * args.chats else 0
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=20)
        await drop_database(admin, db_url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chats", type=int, default=1000)
    parser.add_argument("--delay", type=float, default=2.0)
    parser.add_argument(
        "--ramp",
        type=float,
        default=0.0,
        help="spread the chats' start over this many seconds (0: all at once)",
    )
    parser.add_argument("--pool", type=int, default=20, help="GATEWAY_DB_POOL_SIZE")
    parser.add_argument(
        "--chat-slots", type=int, default=10, help="GATEWAY_CHAT_DB_SLOTS (< --pool)"
    )
    parser.add_argument("--workers", type=int, default=1, help="gateway worker processes")
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
        ),
    )
    sys.exit(asyncio.run(bench(parser.parse_args())))


if __name__ == "__main__":
    main()
