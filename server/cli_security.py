"""CLI commands for credentials: `apikey create|revoke|list`, `token --session`, `revoke-session`.

A plain key or token goes to stdout alone (easy to capture in a script); everything
else goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from auth.credentials import (
    CredentialError,
    create_api_key,
    create_session_token,
    end_session,
    list_api_keys,
    parse_scopes,
    revoke_api_key,
)
from db.engine import create_engine, create_session_factory
from db.migrate import upgrade_to_head
from server.app import token_config
from server.settings import Settings

T = TypeVar("T")


def _run(
    settings: Settings, action: Callable[[async_sessionmaker[AsyncSession]], Awaitable[T]]
) -> T:
    async def main() -> T:
        url = settings.resolved_database_url
        await upgrade_to_head(url)
        database = create_engine(url, pool_size=1)
        try:
            return await action(create_session_factory(database))
        finally:
            await database.dispose()

    return asyncio.run(main())


def _fail(error: Exception) -> int:
    print(f"error: {error}", file=sys.stderr)
    return 2


def cmd_apikey_create(settings: Settings, args: argparse.Namespace) -> int:
    try:
        scopes = parse_scopes(args.scopes)
        roles = ["admin"] if args.admin else []
        created = _run(
            settings,
            lambda s: create_api_key(
                s, subject=args.user, name=args.name, scopes=scopes, roles=roles
            ),
        )
    except CredentialError as error:
        return _fail(error)
    print(
        f"created API key {created.row.prefix} (id {created.row.id}) for {args.user} "
        f"with scopes {','.join(scopes)}{' and the admin role' if roles else ''}; "
        "it is shown once, store it now:",
        file=sys.stderr,
    )
    print(created.plain, flush=True)
    return 0


def cmd_apikey_revoke(settings: Settings, args: argparse.Namespace) -> int:
    try:
        key = _run(settings, lambda s: revoke_api_key(s, args.key))
    except CredentialError as error:
        return _fail(error)
    print(f"revoked API key {key.prefix} (id {key.id})", file=sys.stderr)
    return 0


LIST_HEADER = ("PREFIX", "ID", "NAME", "SCOPES", "ROLES", "STATE", "LAST USED")


def cmd_apikey_list(settings: Settings, args: argparse.Namespace) -> int:
    keys = _run(settings, lambda s: list_api_keys(s, args.user))
    rows = [LIST_HEADER]
    for key in keys:
        state = f"revoked {key.revoked_at.isoformat()}" if key.revoked_at else "active"
        used = key.last_used_at.isoformat() if key.last_used_at else "never used"
        roles = ",".join(key.roles) or "-"
        rows.append((key.prefix, str(key.id), key.name, ",".join(key.scopes), roles, state, used))
    # A header line names the columns, even when the user has no key yet.
    widths = [max(len(row[i]) for row in rows) for i in range(len(LIST_HEADER))]
    for row in rows:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        print("  ".join(cells).rstrip())
    return 0


def cmd_session_token(settings: Settings, args: argparse.Namespace) -> int:
    """`agentwire token --session`: a token revocable with `revoke-session`."""
    roles = ["admin"] if args.admin else []
    session_id, token = _run(
        settings,
        lambda s: create_session_token(
            s, token_config(settings), subject=args.user, roles=roles, ttl_seconds=args.ttl
        ),
    )
    print(
        f"session {session_id}; end it with: agentwire revoke-session {session_id}", file=sys.stderr
    )
    print(token, flush=True)
    return 0


def cmd_revoke_session(settings: Settings, args: argparse.Namespace) -> int:
    try:
        _run(settings, lambda s: end_session(s, args.session_id))
    except CredentialError as error:
        return _fail(error)
    print(f"revoked session {args.session_id}", file=sys.stderr)
    return 0


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    apikey = commands.add_parser("apikey", help="create, revoke or list API keys")
    actions = apikey.add_subparsers(dest="apikey_command", required=True)
    create = actions.add_parser("create", help="create a key and print it once")
    create.add_argument("--user", required=True, help="the owner's subject")
    create.add_argument(
        "--scopes",
        default="tasks:read,tasks:write",
        help="comma-separated: tasks:read, tasks:write, worker (default tasks:read,tasks:write)",
    )
    create.add_argument("--name", default="cli", help="a label shown in `apikey list`")
    create.add_argument(
        "--admin",
        action="store_true",
        help="give the key the admin role (it sees every user's tasks); tokens of its "
        "user never change what a key may do",
    )
    create.set_defaults(handler=cmd_apikey_create)
    revoke = actions.add_parser("revoke", help="revoke a key by its id or prefix")
    revoke.add_argument("key", help="the key's id or prefix (from `apikey list`)")
    revoke.set_defaults(handler=cmd_apikey_revoke)
    listing = actions.add_parser("list", help="list a user's keys (never the keys themselves)")
    listing.add_argument("--user", required=True, help="the owner's subject")
    listing.set_defaults(handler=cmd_apikey_list)
    end = commands.add_parser("revoke-session", help="end a session made by `token --session`")
    end.add_argument("session_id", metavar="SID", help="the session id (the token's sid)")
    end.set_defaults(handler=cmd_revoke_session)
