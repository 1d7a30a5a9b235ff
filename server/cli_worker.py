"""`agentwire worker`: the built-in executor (`wait`, `note`, `announce`, `fail`) as a
separate process that talks to a server over the worker protocol, through the Python SDK's
`Worker`, so API instances (`AGENTWIRE_RUN_ENGINE=false`) and workers scale apart.

    AGENTWIRE_WORKER_KEY=awk_... agentwire worker --url http://127.0.0.1:8000

The steps run in the same `BuiltinExecutor` code the embedded engine runs; only the
`StepContext` differs: here each report is a leased write (docs/workers.md). SIGTERM or
SIGINT gives the task in hand back to the queue (not a failed attempt) and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from typing import TYPE_CHECKING, Any

from engine.builtin import BuiltinExecutor
from engine.executor import ApprovalDecision, StepFailedError, StepSpec
from server.settings import Settings

if TYPE_CHECKING:  # the SDK is its own distribution, imported when the command runs
    from agentwire_client.worker import StepContext as WorkerStepContext
    from agentwire_client.worker import StepResult, Worker


class RemoteStepContext:
    """The engine's `StepContext` for a built-in step run through the SDK."""

    def __init__(self, ctx: WorkerStepContext) -> None:
        self._ctx = ctx

    @property
    def task_id(self) -> str:
        return self._ctx.task_id

    @property
    def cancelled(self) -> bool:
        return self._ctx.cancelled

    async def checkpoint(self) -> None:
        await self._ctx.checkpoint()  # raises the SDK's TaskCancelledError, which it handles

    async def progress(self, fraction: float, message: str | None = None) -> None:
        await self._ctx.progress(min(max(float(fraction), 0.0), 1.0), message)

    async def log(
        self, message: str, *, level: str = "info", data: dict[str, Any] | None = None
    ) -> None:
        await self._ctx.log(message, level=level)

    async def request_approval(self, prompt: str, parameters: dict[str, Any]) -> ApprovalDecision:
        # As in-process: the built-in actions are asked about before they start
        # (`requiresApproval`), never in the middle of their work.
        raise StepFailedError(
            "a step cannot wait for an approval mid-step; declare requiresApproval on the "
            "action so the engine asks before the step starts"
        )

    async def set_artifact(self, key: str, value: Any) -> tuple[bool, Any]:
        return await self._ctx.set_artifact(key, value)

    async def restore_artifact(self, key: str, *, existed: bool, value: Any) -> None:
        if existed:
            await self._ctx.set_artifact(key, value)
        else:
            await self._ctx.remove_artifact(key)


def _spec(step: dict[str, Any], params: dict[str, Any]) -> StepSpec:
    return StepSpec(
        name=step["name"],
        action=step["action"],
        params=params,
        requires_approval=bool(step["requiresApproval"]),
        reversibility=step["reversibility"],
    )


def build_worker(url: str, key: str, *, lease_seconds: float, wait_seconds: float) -> Worker:
    """A Worker of executor `builtin` whose handlers are the built-in executor's own."""
    from agentwire_client.worker import StepResult, Worker

    executor = BuiltinExecutor()
    worker = Worker(
        url, key, executor=executor.name, lease_seconds=lease_seconds, wait_seconds=wait_seconds
    )

    def handlers(action: str) -> None:
        async def run(params: dict[str, Any], ctx: WorkerStepContext) -> StepResult:
            outcome = await executor.run_step(
                _spec(ctx.step, params), params, RemoteStepContext(ctx)
            )
            return StepResult(outcome.result, rollback=outcome.rollback)

        async def roll_back(rollback: dict[str, Any] | None, ctx: WorkerStepContext) -> None:
            spec = _spec(ctx.step, dict(ctx.step["params"]))
            await executor.rollback_step(spec, rollback, RemoteStepContext(ctx))

        declared = executor.actions[action]
        worker.action(
            action,
            schema=declared.parameter_schema,
            reversibility=declared.reversibility,
            rollback=roll_back,
            description=declared.description,
        )(run)

    for action in executor.actions:
        handlers(action)
    return worker


async def run_worker(worker: Worker, *, max_tasks: int | None) -> int:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, lambda: worker.stop(release=True))
    try:
        return await worker.run(max_tasks=max_tasks)
    finally:
        await worker.close()


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    if settings.worker_key is None or not settings.worker_key.get_secret_value():
        print(
            "error: set AGENTWIRE_WORKER_KEY to an API key with the 'worker' scope "
            "(agentwire apikey create --user NAME --scopes worker)",
            file=sys.stderr,
        )
        return 2
    if not 5 <= args.lease_seconds <= 300 or not 0 <= args.wait_seconds <= 30:
        print("error: --lease-seconds is 5 to 300, --wait-seconds 0 to 30", file=sys.stderr)
        return 2
    try:
        worker = build_worker(
            args.url,
            settings.worker_key.get_secret_value(),
            lease_seconds=args.lease_seconds,
            wait_seconds=args.wait_seconds,
        )
    except ImportError:
        print("error: agentwire worker needs agentwire-client (clients/python)", file=sys.stderr)
        return 2
    print(f"agentwire worker: running the built-in executor for {args.url}", file=sys.stderr)
    done = asyncio.run(run_worker(worker, max_tasks=args.max_tasks))
    print(f"agentwire worker: stopped after {done} task(s)", file=sys.stderr)
    return 0


def add_commands(commands: Any) -> None:
    worker = commands.add_parser(
        "worker",
        help="run the built-in executor as a worker of a server (key in AGENTWIRE_WORKER_KEY)",
    )
    worker.add_argument("--url", default="http://127.0.0.1:8000", help="the server's base URL")
    worker.add_argument("--lease-seconds", type=float, default=30, help="5 to 300 (default 30)")
    worker.add_argument(
        "--wait-seconds", type=float, default=10, help="how long a claim waits, 0 to 30 (10)"
    )
    worker.add_argument("--max-tasks", type=int, default=None, help="exit after this many")
    worker.set_defaults(handler=cmd_worker)
