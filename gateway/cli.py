"""`gateway` command line: serve, migrate, create-admin, seed-demo, export-schema, demo-chatbot,
fetch-graphiql-assets, check-aggregates."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import shutil
import sys
import tempfile
from pathlib import Path

from pydantic import ValidationError

from gateway.config import Settings


def _serve(args: argparse.Namespace) -> int:
    settings = Settings()
    if settings.should_auto_migrate:
        from gateway import migrate

        asyncio.run(migrate.upgrade(settings))
        os.environ["GATEWAY_AUTO_MIGRATE"] = "false"  # done once here, not once per worker
    created = None
    if args.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Workers inherit the environment: one shared directory makes /metrics whole.
        created = tempfile.mkdtemp(prefix="gateway-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = created
    elif os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        _empty_dir(Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]))
    try:
        _run_uvicorn(args, settings)
    finally:
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
    return 0


def _run_uvicorn(args: argparse.Namespace, settings: Settings) -> None:
    import uvicorn

    from gateway.observability.logging import logging_config

    uvicorn.run(
        "gateway.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        reload=args.reload,
        log_config=logging_config(settings.log_level, settings.log_json),
        access_log=False,  # gateway.access logs each request, with its request id
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=settings.trusted_proxies or None,
        ws_max_size=settings.max_body_bytes,
        timeout_graceful_shutdown=(
            args.grace if args.grace is not None else settings.shutdown_grace_seconds
        ),
    )


def _empty_dir(directory: Path) -> None:
    """Samples of a previous run must not be added to this one's."""
    directory.mkdir(parents=True, exist_ok=True)
    for leftover in directory.glob("*.db"):
        leftover.unlink()


def _migrate(args: argparse.Namespace) -> int:
    from gateway import migrate

    settings = Settings()
    asyncio.run(migrate.upgrade(settings, args.revision))
    print(f"database at revision {args.revision}: {settings.database_url}")
    return 0


def _create_admin(args: argparse.Namespace) -> int:
    from gateway import migrate
    from gateway.admin.service import create_user
    from gateway.auth.passwords import Passwords
    from gateway.db import Database
    from gateway.errors import DomainError
    from gateway.users.models import Role
    from gateway.users.schemas import RegisterInput

    password = args.password or os.environ.get("GATEWAY_ADMIN_PASSWORD") or getpass.getpass()
    try:
        data = RegisterInput(
            username=args.username,
            email=args.email,
            password=password,
            full_name=args.full_name,
            role=Role.ADMIN,
        )
    except ValidationError as exc:
        print(f"invalid input: {exc}", file=sys.stderr)
        return 2
    settings = Settings()

    async def run() -> None:
        if settings.should_auto_migrate:
            await migrate.upgrade(settings)
        db = Database(settings)
        try:
            async with db.transaction() as session:
                await create_user(session, Passwords(settings), data)
        finally:
            await db.dispose()

    try:
        asyncio.run(run())
    except DomainError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        return 1
    print(f"created admin {data.username}")
    return 0


def _seed_demo(args: argparse.Namespace) -> int:
    from gateway import migrate
    from gateway.auth.passwords import Passwords
    from gateway.db import Database
    from gateway.seed import ADMIN, PROFESSORS, STUDENTS, SeedReport, seed

    settings = Settings()

    async def run() -> SeedReport:
        if settings.should_auto_migrate:
            await migrate.upgrade(settings)
        db = Database(settings)
        try:
            return await seed(db, Passwords(settings), args.password)
        finally:
            await db.dispose()

    report = asyncio.run(run())
    created = ", ".join(f"{n} {kind}" for kind, n in report.created.items()) or "nothing new"
    print(f"demo data in {settings.database_url}: created {created}")
    print(
        f"accounts (password {args.password!r}): admin {ADMIN[0]}; professors "
        f"{', '.join(PROFESSORS)}; students {', '.join(STUDENTS)}"
    )
    return 0


def _check_aggregates(args: argparse.Namespace) -> int:
    from gateway.analytics import check
    from gateway.db import Database

    settings = Settings()

    async def run() -> list[check.Difference]:
        db = Database(settings)
        try:
            async with db.transaction() as session:
                found = await check.consistent_differences(session)
            if found and args.repair:  # a new transaction: it must see the latest commits
                async with db.transaction() as session:
                    await check.repair(session)
            return found
        finally:
            await db.dispose()

    found = asyncio.run(run())
    for difference in found:
        print(difference)
    verdict = "repaired" if args.repair else "found"
    print(f"{len(found)} difference(s) {verdict}" if found else "aggregates match the base tables")
    return 1 if found else 0


def _export_schema(args: argparse.Namespace) -> int:
    from gateway.graphql.schema import build_schema

    sdl = build_schema(Settings(env="development")).as_str() + "\n"
    if args.output == "-":
        sys.stdout.write(sdl)
    else:
        Path(args.output).write_text(sdl)
        print(f"wrote {args.output}")
    return 0


def _demo_chatbot(args: argparse.Namespace) -> int:
    from gateway.demo_chatbot import serve

    serve(args.host, args.port, args.delay)
    return 0


def _fetch_graphiql_assets(args: argparse.Namespace) -> int:
    from gateway.graphql.ide import DEFAULT_ASSETS_DIR, pinned_packages
    from gateway.graphql.ide_fetch import AssetFetchError, fetch

    packages = pinned_packages()
    if args.print_specs:
        print("\n".join(p.spec for p in packages))
        return 0
    destination = args.dest or Settings().graphiql_assets_dir or DEFAULT_ASSETS_DIR
    try:
        written = fetch(packages, destination, args.tarballs)
    except AssetFetchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for folder in written:
        print(f"installed {folder}")
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="gateway", description=__doc__)
    sub = root.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the HTTP server (migrates the embedded SQLite)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--reload", action="store_true")
    serve.add_argument(
        "--grace",
        type=int,
        default=None,
        help="seconds in-flight requests get to finish on SIGTERM "
        "(default: $GATEWAY_SHUTDOWN_GRACE_SECONDS, 30)",
    )
    serve.set_defaults(func=_serve)

    mig = sub.add_parser("migrate", help="apply database migrations")
    mig.add_argument("revision", nargs="?", default="head")
    mig.set_defaults(func=_migrate)

    admin = sub.add_parser("create-admin", help="create an ADMIN account")
    admin.add_argument("--username", required=True)
    admin.add_argument("--email", required=True)
    admin.add_argument("--full-name", default="")
    admin.add_argument(
        "--password", help="default: $GATEWAY_ADMIN_PASSWORD, else asked interactively"
    )
    admin.set_defaults(func=_create_admin)

    demo = sub.add_parser(
        "seed-demo",
        help="load demo data: admin, professors, students, subjects, enrollments, "
        "sessions with messages, quiz attempts (idempotent)",
    )
    demo.add_argument("--password", default="demo-password-1", help="for every demo account")
    demo.set_defaults(func=_seed_demo)

    aggregates = sub.add_parser(
        "check-aggregates",
        help="recompute the analytics aggregates from the base tables; exit 1 on a difference",
    )
    aggregates.add_argument(
        "--repair", action="store_true", help="replace the stored aggregates by the recomputation"
    )
    aggregates.set_defaults(func=_check_aggregates)

    export = sub.add_parser("export-schema", help="write the GraphQL SDL")
    export.add_argument("--output", "-o", default="schema.graphql")
    export.set_defaults(func=_export_schema)

    demo = sub.add_parser("demo-chatbot", help="run a local echo tutor (no LLM) for trying chat")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8080)
    demo.add_argument("--delay", type=float, default=0.0, help="seconds before each answer")
    demo.set_defaults(func=_demo_chatbot)

    assets = sub.add_parser(
        "fetch-graphiql-assets",
        help="install GraphiQL's pinned npm packages (checked by sha512) where /graphql serves "
        "them from, so the IDE works offline",
    )
    assets.add_argument(
        "--tarballs",
        type=Path,
        help="a folder of tarballs made with `npm pack` (e.g. on another machine) instead of "
        "running npm here",
    )
    assets.add_argument(
        "--dest",
        type=Path,
        help="default: $GATEWAY_GRAPHIQL_ASSETS_DIR, else gateway/static/graphiql",
    )
    assets.add_argument(
        "--print-specs",
        action="store_true",
        help="print the pinned packages (name@version) for `npm pack` and exit",
    )
    assets.set_defaults(func=_fetch_graphiql_assets)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command != "serve":
        # The directory belongs to the running server's workers: a one-off command's samples
        # must not be added to theirs (nor leave files behind there).
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    try:
        return int(args.func(args))
    except ValidationError as exc:
        if exc.title != Settings.__name__:
            raise
        # One line per problem, no traceback: a traceback would show the environment's values.
        for error in exc.errors(include_input=False, include_url=False):
            where = ".".join(str(part) for part in error["loc"]) or "settings"
            print(f"gateway: configuration refused ({where}): {error['msg']}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
