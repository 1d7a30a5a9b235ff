"""A worker process built on the Python SDK, for the crash-recovery test.

Usage: python -m tests.support.sdk_worker URL EXECUTOR RUNS_FILE [CAP_MS]
(key in AGENTWIRE_WORKER_KEY). Each `slow` step appends its label to RUNS_FILE when it
starts, so the test can see which steps ran how often; CAP_MS shortens every wait. A step
with `ask: true` asks for approval after it has recorded its label.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from agentwire_client.worker import StepContext, Worker

SLOW = {
    "type": "object",
    "properties": {"label": {"type": "string"}, "ms": {"type": "integer", "minimum": 0}},
    "required": ["label", "ms"],
}


def record(runs: Path, label: str) -> None:
    with runs.open("a") as log:
        log.write(label + "\n")


async def main() -> None:
    url, executor, runs = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    cap = int(sys.argv[4]) if len(sys.argv) > 4 else None
    worker = Worker(
        url, os.environ["AGENTWIRE_WORKER_KEY"], executor=executor, lease_seconds=5, wait_seconds=5
    )

    @worker.action("slow", schema=SLOW)
    async def slow(params: dict[str, Any], ctx: StepContext) -> dict[str, Any]:
        record(runs, params["label"])
        if params.get("ask"):
            # Mid-step: the worker releases the task until the decision, and this handler
            # runs again from its start (with the approved parameters) once it is back.
            decision = await ctx.request_approval(f"go on with {params['label']}?")
            assert decision.granted, decision
        total = params["ms"] if cap is None else min(params["ms"], cap)
        for tick in range(1, 5):
            await asyncio.sleep(total / 4000)
            await ctx.progress(tick / 4)
        return {"label": params["label"]}

    try:
        await worker.run(max_tasks=1)
    finally:
        await worker.close()


if __name__ == "__main__":
    asyncio.run(main())
