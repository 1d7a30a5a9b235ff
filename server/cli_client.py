"""`agentwire submit`, `agentwire watch`, `agentwire history`: a client of a running server
over the wire, built on the Python SDK (agentwire_client), never on the server's internals.

`--url` defaults to the configured host and port (AGENTWIRE_HOST / AGENTWIRE_PORT);
`--token` to AGENTWIRE_TOKEN. On a terminal output is drawn with rich; in a pipe it is
plain lines (the task id alone after `submit`, one line per event, tab-separated history)."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from server.settings import Settings

if TYPE_CHECKING:
    from agentwire_client import AsyncClient

    from server.cli_watch import Renderer

# The SDK is its own distribution (clients/python): imported when a client command runs, so
# that `agentwire serve` works on an install without it.
SDK_MISSING = (
    "these commands need the Python SDK (agentwire-client): "
    "pip install -e clients/python (python3 dev.py serve installs it)"
)

EXIT_USAGE = 2
EXIT_CLIENT_ERROR = 3
TOKEN_VARIABLE = "AGENTWIRE_TOKEN"


def default_url(settings: Settings) -> str:
    # A server bound to every interface is reached on loopback from the same machine.
    host = {"0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(settings.host, settings.host)
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{settings.port}"


class Session:
    """What every client command needs: the client, the console, and how to print."""

    def __init__(self, settings: Settings, args: argparse.Namespace) -> None:
        self.url: str = args.url or default_url(settings)
        self.token: str = args.token or os.environ.get(TOKEN_VARIABLE, "")
        self.interactive = sys.stdout.isatty() and sys.stdin.isatty()
        self.console = Console(highlight=False)
        self.errors = Console(stderr=True, highlight=False)

    def renderer(self) -> Renderer:
        from server.cli_watch import BarsRenderer, LineRenderer

        return BarsRenderer(self.console) if self.interactive else LineRenderer()


def run_client(
    settings: Settings,
    args: argparse.Namespace,
    command: Callable[[Session, AsyncClient], Awaitable[int]],
) -> int:
    """Run one command with a client, mapping what can go wrong to a message and exit code."""
    try:
        import httpx
        from agentwire_client import AgentwireError, AsyncClient
    except ImportError:
        print(f"error: {SDK_MISSING}", file=sys.stderr)
        return EXIT_USAGE
    session = Session(settings, args)
    # The server's log set-up shows INFO; a client's request lines are noise on its terminal.
    for name in ("httpx", "gql", "websockets"):
        logging.getLogger(name).setLevel(logging.WARNING)
    if not session.token:
        session.errors.print(
            f"no token: pass --token or set {TOKEN_VARIABLE} (`agentwire serve` prints a "
            "development token; `agentwire token --user NAME` issues one)"
        )
        return EXIT_USAGE

    async def main() -> int:
        async with AsyncClient(session.url, token=session.token) as client:
            return await command(session, client)

    try:
        return asyncio.run(main())
    except ValueError as error:  # a --url that is not http(s)
        session.errors.print(f"error: {escape(str(error))}")
        return EXIT_USAGE
    except AgentwireError as error:
        code = f" ({error.code})" if error.code else ""
        session.errors.print(f"error: {escape(str(error))}{code}")
        return EXIT_CLIENT_ERROR
    except httpx.TransportError as error:
        session.errors.print(
            f"error: cannot reach {session.url} ({type(error).__name__}); is the server running?"
        )
        return EXIT_CLIENT_ERROR
    except KeyboardInterrupt:
        return 130


def read_context(path: str | None) -> dict[str, Any] | None:
    """The --context file as a JSON object; ValueError with a message that names the file."""
    if path is None:
        return None
    try:
        text = Path(path).read_text()
    except OSError as error:
        raise ValueError(f"cannot read --context {path}: {error.strerror}") from None
    try:
        context = json.loads(text)
    except ValueError as error:
        raise ValueError(f"--context {path} is not JSON: {error}") from None
    if not isinstance(context, dict):
        raise ValueError(f"--context {path} must hold a JSON object")
    return context


def cmd_submit(settings: Settings, args: argparse.Namespace) -> int:
    try:
        context = read_context(args.context)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE

    async def submit(session: Session, client: AsyncClient) -> int:
        task = await client.submit_task(args.text, context=context, priority=args.priority)
        if session.interactive:
            session.console.print(f"submitted task [bold]{task.id}[/] ({task.status})")
        else:
            print(task.id, flush=True)
        if not args.watch:
            return 0
        return await watch(session, client, task.id)

    return run_client(settings, args, submit)


async def watch(session: Session, client: AsyncClient, task_id: str) -> int:
    from server.cli_watch import watch_task

    renderer = session.renderer()
    try:
        return await watch_task(
            client,
            task_id,
            renderer=renderer,
            interactive=session.interactive,
            console=session.console,
        )
    finally:
        renderer.close()


def cmd_watch(settings: Settings, args: argparse.Namespace) -> int:
    return run_client(settings, args, lambda session, client: watch(session, client, args.task_id))


def cmd_history(settings: Settings, args: argparse.Namespace) -> int:
    async def history(session: Session, client: AsyncClient) -> int:
        page = await client.tasks(status=args.status, first=args.limit)
        rows = [(t.id, t.status, t.created_at, t.task) for t in page.tasks]
        if not session.interactive:
            print("ID\tSTATUS\tCREATED\tTASK")
            for row in rows:
                # One line per task, whatever its text holds.
                print("\t".join(" ".join(str(cell).split()) for cell in row))
            return 0
        table = Table(title=f"{len(rows)} of {page.total_count} tasks")
        for column in ("ID", "STATUS", "CREATED", "TASK"):
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*(escape(str(cell)) for cell in row))
        session.console.print(table)
        return 0

    return run_client(settings, args, history)


def _connection_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", help="the server (default: http://AGENTWIRE_HOST:AGENTWIRE_PORT)")
    parser.add_argument("--token", help=f"a bearer token (default: ${TOKEN_VARIABLE})")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    submit = commands.add_parser("submit", help="submit a task to a running server")
    submit.add_argument("text", help="what the task should do")
    submit.add_argument("--context", metavar="FILE", help="a JSON object file: the task's context")
    submit.add_argument("--priority", type=int, help="higher runs first (default 0)")
    submit.add_argument("--watch", action="store_true", help="then watch it, as `agentwire watch`")
    _connection_options(submit)
    submit.set_defaults(handler=cmd_submit)
    watch_parser = commands.add_parser(
        "watch", help="follow a task live; answer its approvals here (exit 0 if it completes)"
    )
    watch_parser.add_argument("task_id", metavar="TASK_ID")
    _connection_options(watch_parser)
    watch_parser.set_defaults(handler=cmd_watch)
    history = commands.add_parser("history", help="list your tasks, newest first")
    history.add_argument("--status", type=str.upper, help="only tasks in this status, e.g. FAILED")
    history.add_argument("--limit", type=_positive, default=20, help="at most N tasks (default 20)")
    _connection_options(history)
    history.set_defaults(handler=cmd_history)
