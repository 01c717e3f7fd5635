"""CPU per request for the profile (`me`), the subjects page and the sessions list on both faces,
in-process (httpx ASGI transport, client
CPU included), on a scratch PostgreSQL database: an A/B between two checkouts without wrk.

    taskset -c 1 python -m bench.inprocess_profile            # this checkout
    cd ../other-checkout && PYTHONPATH=. taskset -c 1 python -m bench.inprocess_profile

Run the two checkouts alternately, several times, pinned to one core: single runs on a shared
2-core machine vary by 10-20 %. `PROFILE=tottime` (or `cumulative`) prints a cProfile of each
chosen operation (`OPS=`) instead of timing it. `DRIVER=asgi` calls the ASGI app directly, without
an HTTP client: the CPU measured is then the server's alone.
"""

from __future__ import annotations

import asyncio
import cProfile
import os
import pstats
import time
import uuid
from collections.abc import Awaitable, Callable

import asyncpg
import httpx
import orjson
from asgi_lifespan import LifespanManager
from starlette.types import ASGIApp, Message, Scope

from gateway import migrate
from gateway.analytics.check import repair
from gateway.app import create_app
from gateway.config import Settings
from gateway.runtime import Gateway
from gateway.seed import DEMO_PASSWORD, seed
from gateway.sessions.models import QuizAttempt
from gateway.subjects.models import Enrollment
from gateway.users.models import User

ADMIN_DSN = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
N = int(os.environ.get("N", "2500"))
# "asgi": call the app directly (server CPU alone); "httpx" (default): through httpx's ASGI
# transport, client CPU included, as the earlier rounds measured.
DRIVER = os.environ.get("DRIVER", "httpx")
PRODUCTION = os.environ.get("PRODUCTION") == "1"
ROUNDS = int(os.environ.get("ROUNDS", "3"))  # the best round counts: steal and noise only add
PROFILE = os.environ.get("PROFILE")  # "tottime" or "cumulative": cProfile instead of timing
PROFILE_OUT = os.environ.get("PROFILE_OUT")  # also write the profile to PROFILE_OUT.<op>.prof
# The query bench.run measures (subjectCodes is an async field: it costs more than a plain one).
ME = (
    "query Profile { me { username email fullName role subjectCodes "
    "preferences { theme notifications } } }"
)
SUBJECTS = "{ subjects(first: 20) { nodes { id name professor { fullName } studentCount } } }"
SESSIONS = "{ sessions(first: 20) { nodes { id title messageCount lastActive } } }"
# As INF001's professor, over the 100 students that more_students() adds to the seed's four.
ANALYTICS = """{ subject(id: "INF001") { analytics {
  totalStudents activeStudents averageTestScore
  studentProgress(first: 100) { nodes { username testCount averageScore lastActivity } }
} } }"""


async def more_students(gw: Gateway, count: int = 100) -> None:
    """Students enrolled in INF001 with a quiz attempt each, then the analytics aggregates
    recomputed (gateway.analytics.check.repair), so that studentProgress has a full page."""
    async with gw.db.transaction() as db:
        hashed = await gw.passwords.hash(DEMO_PASSWORD)
        for n in range(count):
            student = User(
                username=f"bench{n:03d}",
                email=f"bench{n:03d}@bench.example.edu",
                full_name=f"Bench Student {n}",
                hashed_password=hashed,
            )
            db.add(student)
            await db.flush()
            db.add(Enrollment(student_id=student.id, subject_id="INF001"))
            db.add(
                QuizAttempt(
                    user_id=student.id, subject_id="INF001", correct=n % 6, total=5,
                    percentage=(n % 6) * 20.0,
                )
            )  # fmt: skip
        await db.flush()
        await repair(db)


async def measure(label: str, call: Callable[[], Awaitable[None]]) -> None:
    for _ in range(300):
        await call()
    if PROFILE:
        await profile(label, call)
        return
    best = []
    for _ in range(ROUNDS):
        started = time.process_time()
        for _ in range(N):
            await call()
        best.append((time.process_time() - started) / N * 1000)
    print(f"{label}: {min(best):.3f} ms CPU/request (best of {ROUNDS} x {N})", flush=True)


def asgi_call(
    app: ASGIApp, method: str, target: str, headers: list[tuple[bytes, bytes]], body: bytes = b""
) -> Callable[[], Awaitable[None]]:
    """One request straight into the ASGI app, no HTTP client: the CPU measured is the server's
    alone (DRIVER=asgi), as uvicorn would call it minus the protocol parsing."""
    path, _, query = target.partition("?")
    head = [(b"host", b"bench"), *headers]
    if body:
        head += [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]

    async def call() -> None:
        scope: Scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": head,
            "client": ("127.0.0.1", 50000),
            "server": ("bench", 80),
        }
        sent = False
        status = 0
        chunks: list[bytes] = []

        async def receive() -> Message:
            nonlocal sent
            if sent:
                await asyncio.Event().wait()  # never: no disconnect during a request
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await app(scope, receive, send)
        assert status == 200 and b'"errors"' not in b"".join(chunks), b"".join(chunks)

    return call


async def profile(label: str, call: Callable[[], Awaitable[None]]) -> None:
    """Where the time goes: cProfile over N calls, the top 40 functions (client included)."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(N):
        await call()
    profiler.disable()
    print(f"== {label}: cProfile over {N} requests, sorted by {PROFILE}", flush=True)
    pstats.Stats(profiler).sort_stats(str(PROFILE)).print_stats(40)
    if PROFILE_OUT:  # for pstats' print_callees / snakeviz
        profiler.dump_stats(f"{PROFILE_OUT}.{label.replace(' ', '-')}.prof")


async def main() -> None:
    name = f"gw_bench_ab_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(ADMIN_DSN)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    try:
        base = ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
        settings = Settings(
            # PRODUCTION=1: as bench.run serves it (production's extensions, the rate limiter
            # counting with a limit it never reaches).
            env="production" if PRODUCTION else "test",
            database_url=f"{base}/{name}",
            jwt_secret="bench-secret-Qm7vR2xK9pL4wT8nB3cJ6hF1dZ5gY0sAeU",
            argon2_time_cost=1,
            argon2_memory_kib=64,
            rate_limit_enabled=PRODUCTION,
            rate_limit_default="100000000/minute",
            auto_migrate=False,
        )
        await migrate.upgrade(settings)
        app = create_app(settings)
        async with LifespanManager(app):
            gw = app.state.gateway
            await seed(gw.db, gw.passwords)  # subjects, enrollments, sessions and messages
            await more_students(gw)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                form = {"username": "sofia", "password": DEMO_PASSWORD}
                token = await client.post("/token", data=form)
                headers = {"Authorization": f"Bearer {token.json()['access_token']}"}

                raw_headers = [(b"authorization", headers["Authorization"].encode())]
                form = {"username": "mgarcia", "password": DEMO_PASSWORD}
                token = await client.post("/token", data=form)
                professor = f"Bearer {token.json()['access_token']}"

                def rest(path: str) -> Callable[[], Awaitable[None]]:
                    if DRIVER == "asgi":
                        return asgi_call(app, "GET", path, raw_headers)

                    async def call() -> None:
                        assert (await client.get(path, headers=headers)).status_code == 200

                    return call

                def graphql(query: str, auth: str | None = None) -> Callable[[], Awaitable[None]]:
                    auth = auth or headers["Authorization"]
                    if DRIVER == "asgi":
                        body = orjson.dumps({"query": query})
                        head = [(b"authorization", auth.encode())]
                        return asgi_call(app, "POST", "/graphql", head, body)

                    async def call() -> None:
                        r = await client.post(
                            "/graphql", json={"query": query}, headers={"Authorization": auth}
                        )
                        assert r.status_code == 200 and "errors" not in r.json(), r.text

                    return call

                ops = {
                    # The fixed cost of each face: no statement, no caller.
                    "REST liveness": rest("/health"),
                    "GraphQL typename": graphql("{ __typename }"),
                    "REST profile": rest("/users/me"),
                    "GraphQL profile": graphql(ME),
                    "REST subjects page": rest("/subjects?page=1&limit=20"),
                    "GraphQL subjects page": graphql(SUBJECTS),
                    "REST sessions list": rest("/sessions"),
                    "GraphQL sessions list": graphql(SESSIONS),
                    "GraphQL analytics": graphql(ANALYTICS, professor),
                }
                only = os.environ.get("OPS")
                for label, call in ops.items():
                    if only is None or any(part in label for part in only.split(",")):
                        await measure(label, call)
    finally:
        conn = await asyncpg.connect(ADMIN_DSN)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


if __name__ == "__main__":
    asyncio.run(main())
