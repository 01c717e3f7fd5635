"""Write-path latency: quiz completion and enroll/unenroll on the big subject, for one or more
checkouts of the gateway (A/B: the aggregates cost a few statements in these transactions).

    python -m bench.writes [--code DIR ...] [--rounds 2] [--quizzes 150] [--enrolls 300]

Needs the database seeded by `python -m bench.seed` (or bench.run). Each `--code` directory is
a checkout of the gateway (default: this one), started in turn as one uvicorn worker pinned to
CPU 0 (like bench.run) with the demo tutor (`gateway demo-chatbot`) as its upstream on CPU 1;
with several, they alternate for --rounds rounds and each figure is the median over rounds.
`--concurrency` clients (default 4) each own distinct students of SUBJ01, so no two requests
compete for one row except the subject's own aggregate row, which is the contention measured.
Prints p50 / p90 in ms per step: "quiz completion" is the last answer of a quiz (the request that
records the attempt), "enroll" and "unenroll" the two halves of leaving and re-joining SUBJ01.
After the runs the aggregates are recomputed (a checkout without them writes past them)."""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx

from bench import run as harness
from bench import seed as seeding

UPSTREAM_PORT = 8398
GATEWAY_PORT = 8397
BIG = seeding.BIG_SUBJECT


def start(argv: list[str], env: dict[str, str], cwd: Path, cpu: int, port: int, log: Path) -> Any:
    proc = subprocess.Popen(
        harness.pin(cpu) + argv,
        cwd=cwd,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    harness.wait_port(port, proc)
    return proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    server = harness.Server("", 0, [], {})
    server.proc = proc
    harness.stop(server)


async def timed(
    client: httpx.AsyncClient, samples: list[float], method: str, path: str, **kw: object
) -> httpx.Response:
    t0 = time.perf_counter()
    response = await client.request(method, path, **kw)  # type: ignore[arg-type]
    samples.append((time.perf_counter() - t0) * 1000)
    if response.status_code >= 300:
        raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:200]}")
    return response


async def drive(url: str, tokens: list[str], quizzes: int, enrolls: int, clients: int) -> dict:
    found: dict[str, list[float]] = defaultdict(list)
    share = [tokens[i::clients] for i in range(clients)]

    async def quiz(client: httpx.AsyncClient, h: dict[str, str]) -> None:
        sid = str(uuid.uuid4())
        body = {"id": sid, "asignatura": BIG, "content": "Hazme un test"}
        await timed(client, found["chat (quiz start)"], "POST", "/chat", json=body, headers=h)
        for index, answer in ((1, "nlogn"), (2, "pila"), (3, "8")):
            step = "quiz completion" if index == 3 else "quiz answer"
            await timed(
                client,
                found[step],
                "POST",
                f"/sessions/{sid}/resume_chat",
                json={"answer": answer, "current_question_index": index},
                headers=h,
            )

    async def worker(mine: list[str], n_quiz: int, n_enroll: int) -> None:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            for i in range(n_enroll):
                h = {"Authorization": f"Bearer {mine[i % len(mine)]}"}
                path = f"/subjects/{BIG}/enroll"
                await timed(client, found["unenroll"], "DELETE", path, headers=h)
                await timed(client, found["enroll"], "POST", path, headers=h)
            for i in range(n_quiz):
                try:
                    await quiz(client, {"Authorization": f"Bearer {mine[i % len(mine)]}"})
                except (RuntimeError, httpx.HTTPError) as exc:  # an upstream hiccup: counted
                    found["failed quizzes"].append(0.0)
                    print(f"  quiz failed: {exc}", file=sys.stderr)

    await asyncio.gather(*(worker(m, quizzes // clients, enrolls // clients) for m in share))
    return found


def measure(code: Path, dsn: str, tokens: list[str], args: argparse.Namespace) -> dict:
    out = harness.OUT
    out.mkdir(exist_ok=True)
    upstream = start(
        [sys.executable, "-m", "gateway.cli", "demo-chatbot", "--port", str(UPSTREAM_PORT)],
        dict(os.environ, PYTHONPATH=str(code)),
        code,
        1,
        UPSTREAM_PORT,
        out / "writes-upstream.log",
    )
    env = harness.base_env(dsn)
    env.update(
        PYTHONPATH=str(code),
        CHATBOT_URL=f"http://127.0.0.1:{UPSTREAM_PORT}",
        GATEWAY_RATE_LIMIT_CHAT="100000000/minute",
    )
    argv = harness.uvicorn_argv("gateway.app:create_app", GATEWAY_PORT, factory=True)
    gateway = start(argv, env, code, 0, GATEWAY_PORT, out / "writes-gateway.log")
    try:
        url = f"http://127.0.0.1:{GATEWAY_PORT}"
        asyncio.run(drive(url, tokens, args.quizzes // 5, args.enrolls // 5, args.concurrency))
        return asyncio.run(drive(url, tokens, args.quizzes, args.enrolls, args.concurrency))
    finally:
        stop(gateway)
        stop(upstream)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", default=seeding.DEFAULT_DSN)
    parser.add_argument("--code", type=Path, action="append", help="gateway checkout(s)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--quizzes", type=int, default=120)
    parser.add_argument("--enrolls", type=int, default=240)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    codes = [c.resolve() for c in (args.code or [harness.ROOT])]
    tokens = harness.issue_tokens(args.dsn)["student"]
    figures: dict[str, dict[str, list[tuple[float, float]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for round_ in range(args.rounds):
        for code in codes if round_ % 2 == 0 else codes[::-1]:
            found = measure(code, args.dsn, tokens, args)
            print(f"  {code.name} #{round_ + 1}: {len(found['failed quizzes'])} failed quizzes")
            found.pop("failed quizzes", None)
            for step, samples in found.items():
                p50 = statistics.median(samples)
                p90 = statistics.quantiles(samples, n=10)[-1]
                figures[str(code)][step].append((p50, p90))
                print(
                    f"  {code.name} round {round_ + 1} {step}: p50 {p50:.1f} ms, p90 {p90:.1f} ms"
                )
    asyncio.run(seeding.rebuild_aggregates(args.dsn))
    print()
    print(
        f"{args.concurrency} clients, {args.quizzes} quizzes and {args.enrolls} enroll/unenroll "
        f"pairs per run, median of {args.rounds} round(s)"
    )
    print()
    print("| checkout | step | p50 ms | p90 ms |")
    print("|---|---|---:|---:|")
    for code, steps in figures.items():
        for step, values in steps.items():
            p50 = statistics.median(v[0] for v in values)
            p90 = statistics.median(v[1] for v in values)
            print(f"| {Path(code).name} | {step} | {p50:.1f} | {p90:.1f} |")


if __name__ == "__main__":
    main()
