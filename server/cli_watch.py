"""`agentwire watch`: a task's events in the terminal, with approvals answered there.

On a terminal, a live progress bar per step (rich) with log lines above it; in a pipe, one
plain line per event, nothing redrawn. Prompts read stdin either way, so a script (or a
test) can answer them; an empty stdin (EOF) leaves the approval pending."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import Iterator
from typing import Any, Protocol

from agentwire_client import AgentwireError, AsyncClient, TaskEvent
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn

# Exit codes of `watch` and `submit --watch`: scripts can tell a finished task from a failed one.
EXIT_COMPLETED = 0
EXIT_NOT_COMPLETED = 1


def describe(event: TaskEvent) -> str:
    """One line for an event: its seq (or -), type, and what it says."""
    data = event.data
    step = data.get("step") or {}
    # Positions count from 0 on the wire; people count steps from 1.
    named = f'step {step.get("position", -1) + 1} "{step.get("name")}"' if step else ""
    detail: str
    if event.type == "SNAPSHOT":
        task = event.task or {}
        detail = f"{task.get('status')}, {len(task.get('steps') or [])} steps"
    elif event.type == "STATUS_CHANGE":
        detail = f"{data.get('previousStatus') or '-'} -> {data.get('status')}"
    elif event.type == "STEP_PROGRESS":
        detail = f"{named} {round(100 * (data.get('progress') or 0))}%"
    elif event.type == "APPROVAL_REQUEST":
        request = data.get("approvalRequest") or {}
        detail = f"{named} parameters {json.dumps(request.get('parameters'), sort_keys=True)}"
    elif event.type == "APPROVAL_RESOLVED":
        detail = f"{named} {(data.get('approvalRequest') or {}).get('status')}"
    elif event.type == "QUEUE_UPDATE":
        detail = f"position {data.get('queuePosition')}, about {data.get('estimatedWaitTime')}s"
    else:
        detail = named
    message = data.get("message")
    if message and event.type not in ("SNAPSHOT", "STATUS_CHANGE"):
        detail = f"{detail} - {message}" if detail else str(message)
    seq = "-" if event.seq is None else str(event.seq)
    return f"{seq} {event.type} {detail}".rstrip()


class Renderer(Protocol):
    def event(self, event: TaskEvent) -> None: ...

    def note(self, text: str) -> None: ...

    def paused(self) -> contextlib.AbstractContextManager[None]: ...

    def close(self) -> None: ...


class LineRenderer:
    """A pipe: one line per event on stdout; notes and prompts on stderr."""

    def event(self, event: TaskEvent) -> None:
        print(describe(event), flush=True)

    def note(self, text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        yield

    def close(self) -> None:
        pass


class BarsRenderer:
    """A terminal: a bar per step, redrawn in place, with each event logged above the bars."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[status]}"),
            console=console,
        )
        self.bars: dict[str, TaskID] = {}
        self.progress.start()

    def _bar(self, step: dict[str, Any]) -> TaskID:
        if step["id"] not in self.bars:
            label = escape(f"{step.get('position', -1) + 1}. {step.get('name')}")
            self.bars[step["id"]] = self.progress.add_task(label, total=100, status="")
        return self.bars[step["id"]]

    def _show(self, step: dict[str, Any]) -> None:
        fraction = step.get("progress")
        status = step.get("status") or ""
        done = status in ("COMPLETED", "SKIPPED", "ROLLED_BACK")
        completed = 100.0 if done else 100.0 * float(fraction or 0)
        self.progress.update(self._bar(step), completed=completed, status=status)

    def event(self, event: TaskEvent) -> None:
        if event.type == "SNAPSHOT" and event.task is not None:
            for step in event.task.get("steps") or []:
                self._show(step)
        step = event.data.get("step")
        if step:
            self._show(step)
        if event.type != "STEP_PROGRESS":
            self.console.print(escape(describe(event)), highlight=False)

    def note(self, text: str) -> None:
        self.console.print(escape(text), style="yellow", highlight=False)

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        self.progress.stop()
        try:
            yield
        finally:
            self.progress.start()

    def close(self) -> None:
        self.progress.stop()


async def ask(question: str, *, interactive: bool, console: Console) -> str | None:
    """A line from stdin (None at EOF), asked on the terminal or on stderr."""

    def read() -> str | None:
        if interactive:
            try:
                return console.input(escape(question))
            except EOFError:
                return None
        print(question, file=sys.stderr, flush=True)
        line = sys.stdin.readline()
        return None if line == "" else line.rstrip("\n")

    return await asyncio.to_thread(read)


async def answer_approval(
    client: AsyncClient,
    task_id: str,
    request: dict[str, Any],
    *,
    renderer: Renderer,
    interactive: bool,
    console: Console,
) -> None:
    """Ask approve / reject / edit until the answer is one of them, then send it."""
    parameters = json.dumps(request.get("parameters"), sort_keys=True)
    # The deadline, when the server sent it (the SNAPSHOT and the TaskSnapshot document do).
    deadline = f" (answer by {request['expiresAt']})" if request.get("expiresAt") else ""
    question = (
        f"approval {request['id']}: {request.get('prompt') or 'run this step?'} "
        f"parameters {parameters}{deadline} - [a]pprove, [r]eject or [e]dit? "
    )
    with renderer.paused():
        while True:
            choice = await ask(question, interactive=interactive, console=console)
            if choice is None:
                renderer.note("no answer on stdin: the approval stays pending")
                return
            choice = choice.strip().lower()
            edited: dict[str, Any] | None = None
            if choice in ("e", "edit"):
                text = await ask(
                    "parameters (JSON object): ", interactive=interactive, console=console
                )
                if text is None:
                    renderer.note("no answer on stdin: the approval stays pending")
                    return
                try:
                    edited = json.loads(text)
                except ValueError as error:
                    renderer.note(f"not JSON ({error}); answer again")
                    continue
                if not isinstance(edited, dict):
                    renderer.note("the parameters must be a JSON object; answer again")
                    continue
            elif choice not in ("a", "approve", "r", "reject"):
                renderer.note(f"{choice!r} is not a, r or e")
                continue
            approved = choice not in ("r", "reject")
            try:
                await client.approve(
                    task_id, request["id"], approved=approved, modified_parameters=edited
                )
            except AgentwireError as refused:
                renderer.note(f"the answer was refused: {refused} ({refused.code})")
            return


async def watch_task(
    client: AsyncClient, task_id: str, *, renderer: Renderer, interactive: bool, console: Console
) -> int:
    """Follow the task until its run ends; the exit code says whether it completed."""
    answered: set[str] = set()
    final: str | None = None
    async with client.watch(task_id, until_finished=True) as watch:
        reconnects = 0
        async for event in watch:
            if watch.reconnects != reconnects:
                reconnects = watch.reconnects
                renderer.note(
                    f"reconnected ({reconnects} failed attempts); resumed after the last event"
                )
            renderer.event(event)
            if event.task is not None:
                final = event.task.get("status")
            final = event.status or final
            request = event.approval_request
            if request is not None and request["id"] not in answered:
                answered.add(request["id"])
                await answer_approval(
                    client,
                    task_id,
                    request,
                    renderer=renderer,
                    interactive=interactive,
                    console=console,
                )
    return EXIT_COMPLETED if final == "COMPLETED" else EXIT_NOT_COMPLETED
