"""An example execution engine: organises files inside a sandbox folder.

    AGENTWIRE_WORKER_KEY=awk_... python examples/file_organiser/engine.py \
        --url http://127.0.0.1:8000 --sandbox /tmp/sandbox

It registers the executor `file-organiser` with one action, `move_file`
(`{source, target}`, paths relative to the sandbox), and runs tasks that name it with
`context.executor`. Every path is resolved inside the sandbox: `..` or an absolute path
that leaves it fails the step. Each move records what its rollback needs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
from pathlib import Path
from typing import Any

from agentwire_client.worker import StepContext, StepResult, Worker

MOVE_SCHEMA = {
    "type": "object",
    "properties": {
        "source": {"type": "string", "minLength": 1, "maxLength": 500},
        "target": {"type": "string", "minLength": 1, "maxLength": 500},
    },
    "required": ["source", "target"],
    "additionalProperties": False,
}


class SandboxError(ValueError):
    """A path would leave the sandbox, or the move cannot be done."""


def inside(sandbox: Path, relative: str) -> Path:
    path = (sandbox / relative).resolve()
    if path != sandbox and sandbox not in path.parents:
        raise SandboxError(f"{relative!r} is outside the sandbox")
    return path


def move(sandbox: Path, source: str, target: str) -> dict[str, str]:
    src, dst = inside(sandbox, source), inside(sandbox, target)
    if not src.exists():
        raise SandboxError(f"{source!r} does not exist")
    if dst.exists():
        raise SandboxError(f"{target!r} already exists; refusing to overwrite it")
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(src, dst)
    return {"from": target, "to": source}


def build(url: str, key: str, sandbox: Path) -> Worker:
    worker = Worker(url, key, executor="file-organiser", lease_seconds=30, wait_seconds=10)

    async def move_back(rollback: dict[str, Any] | None, ctx: StepContext) -> None:
        if rollback is not None:
            await asyncio.to_thread(move, sandbox, rollback["from"], rollback["to"])

    @worker.action(
        "move_file",
        schema=MOVE_SCHEMA,
        reversibility="REVERSIBLE",
        rollback=move_back,
        description="Moves a file inside the sandbox; rolling back moves it back.",
    )
    async def move_file(params: dict[str, Any], ctx: StepContext) -> StepResult:
        await ctx.log(f"moving {params['source']} to {params['target']}")
        back = await asyncio.to_thread(move, sandbox, params["source"], params["target"])
        await ctx.progress(1.0, "moved")
        return StepResult({"moved": params["source"], "to": params["target"]}, rollback=back)

    return worker


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--sandbox", required=True, type=Path)
    parser.add_argument("--max-tasks", type=int, default=None)
    args = parser.parse_args()
    sandbox = args.sandbox.resolve()
    sandbox.mkdir(parents=True, exist_ok=True)
    worker = build(args.url, os.environ["AGENTWIRE_WORKER_KEY"], sandbox)
    # Ctrl-C or SIGTERM: give the task in hand back to the queue (no attempt used up).
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, lambda: worker.stop(release=True))
    try:
        await worker.run(max_tasks=args.max_tasks)
    finally:
        await worker.close()


if __name__ == "__main__":
    asyncio.run(main())
