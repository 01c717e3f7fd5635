"""`gateway` command line: serve, migrate, create-admin, export-schema."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from pathlib import Path

from pydantic import ValidationError

from gateway.config import Settings


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = Settings()
    if settings.should_auto_migrate:
        from gateway import migrate

        asyncio.run(migrate.upgrade(settings))
        os.environ["GATEWAY_AUTO_MIGRATE"] = "false"  # done once here, not once per worker
    uvicorn.run(
        "gateway.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        reload=args.reload,
        log_level=settings.log_level.lower(),
        proxy_headers=True,
        timeout_graceful_shutdown=args.grace,
    )
    return 0


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


def _export_schema(args: argparse.Namespace) -> int:
    from gateway.graphql.schema import build_schema

    sdl = build_schema(Settings(env="development")).as_str() + "\n"
    if args.output == "-":
        sys.stdout.write(sdl)
    else:
        Path(args.output).write_text(sdl)
        print(f"wrote {args.output}")
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="gateway", description=__doc__)
    sub = root.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the HTTP server (migrates the embedded SQLite)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--reload", action="store_true")
    serve.add_argument("--grace", type=int, default=30, help="graceful shutdown, seconds")
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

    export = sub.add_parser("export-schema", help="write the GraphQL SDL")
    export.add_argument("--output", "-o", default="schema.graphql")
    export.set_defaults(func=_export_schema)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
