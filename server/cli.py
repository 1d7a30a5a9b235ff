"""The `agentwire` command: serve, migrate, token; submit, watch, history (server/cli_client.py)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path

from sqlalchemy.engine import make_url

from auth.tokens import issue_token
from db.migrate import upgrade_to_head
from schema.build import build_schema
from server import cli_client, cli_security, cli_worker
from server.app import create_app, token_config
from server.logs import configure_logging
from server.serving import uvicorn_config
from server.settings import Settings
from server.shutdown import GracefulServer

DEV_TOKEN_TTL = 7 * 24 * 3600


def _migrate(settings: Settings) -> None:
    asyncio.run(upgrade_to_head(settings.resolved_database_url))


def cmd_migrate(settings: Settings, _args: argparse.Namespace) -> int:
    _migrate(settings)
    print("database is up to date")
    return 0


def cmd_token(settings: Settings, args: argparse.Namespace) -> int:
    if args.ttl <= 0:
        print("--ttl must be a positive number of seconds", file=sys.stderr)
        return 2
    if args.session:
        return cli_security.cmd_session_token(settings, args)
    roles = ["admin"] if args.admin else []
    print(issue_token(token_config(settings), subject=args.user, roles=roles, ttl_seconds=args.ttl))
    return 0


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    if args.host:
        settings.host = args.host
    if args.port:
        settings.port = args.port
    _migrate(settings)
    app = create_app(settings)
    base = f"http://{settings.host}:{settings.port}"
    if not settings.is_production:
        token = issue_token(
            token_config(settings), subject="developer", roles=["admin"], ttl_seconds=DEV_TOKEN_TTL
        )
        print(f"\nagentwire is starting on {base}")
        print(f"  GraphiQL:  {base}/graphql")
        print(f"  database:  {settings.resolved_database_url.split('://', 1)[0]}")
        print("  development token (user 'developer', admin, valid 7 days):")
        print(f"    {token}")
        print(
            '  in GraphiQL, open Headers and paste: {"Authorization": "Bearer <token above>"}\n',
            flush=True,
        )
    config = uvicorn_config(
        app,
        settings,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        # uvicorn's loggers go through ours: JSON or text, request ids, redaction.
        log_config=None,
    )
    # uvicorn re-raises the SIGTERM it handled once it has shut down; with this handler
    # restored underneath it, a completed graceful shutdown exits 0 instead of -15.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: None)
    GracefulServer(config, app.state.shutdown).run()
    return 0


def cmd_schema(_settings: Settings, args: argparse.Namespace) -> int:
    sdl = build_schema().as_str() + "\n"
    if args.write:
        Path(args.write).write_text(sdl)
        print(f"wrote {args.write}")
    else:
        sys.stdout.write(sdl)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="agentwire", description="Agent Mode task service")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="migrate the database, then serve")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(handler=cmd_serve)
    migrate = commands.add_parser("migrate", help="bring the database schema up to date")
    migrate.set_defaults(handler=cmd_migrate)
    token = commands.add_parser("token", help="print a signed JWT for a user")
    token.add_argument("--user", required=True, help="the subject (sub) of the token")
    token.add_argument("--admin", action="store_true", help="include the admin role")
    token.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds (default 3600)")
    token.add_argument(
        "--session", action="store_true", help="tie it to a session that revoke-session can end"
    )
    token.set_defaults(handler=cmd_token)
    cli_security.add_commands(commands)
    cli_worker.add_commands(commands)
    cli_client.add_commands(commands)
    schema = commands.add_parser("schema", help="print the GraphQL schema (SDL)")
    schema.add_argument("--write", metavar="PATH", help="write it to PATH instead")
    schema.set_defaults(handler=cmd_schema)
    return parser


def secrets_of(settings: Settings) -> list[str]:
    """Configured values no log line may carry: the JWT secret, service passwords."""
    found = [settings.jwt_secret or ""]
    for url in (settings.database_url, settings.redis_url):
        if url:
            with contextlib.suppress(ValueError):
                found.append(make_url(url).password or "")
    return [s for s in found if s]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings()
    configure_logging(
        settings.log_level, settings.resolved_log_format, secrets=secrets_of(settings)
    )
    return int(args.handler(settings, args))


if __name__ == "__main__":
    sys.exit(main())
