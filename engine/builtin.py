"""The built-in executor: `wait`, `note`, `announce` and `fail` steps, planned from the task
or its context."""

from __future__ import annotations

import asyncio
from typing import Any

from domain.vocabulary import Reversibility
from engine.actions import ActionSpec, check_params, parse_steps
from engine.executor import (
    StepContext,
    StepFailedError,
    StepOutcome,
    StepSpec,
)

MAX_WAIT_MS = 600_000
PROGRESS_REPORTS = 5
# A wait sleeps in slices this long and checks for cancellation after each, so a
# cancelled wait stops within a second however long its `ms`.
WAIT_SLICE_SECONDS = 0.2

# The built-in actions, declared exactly as a remote executor declares its own.
ACTIONS: dict[str, ActionSpec] = {
    spec.name: spec
    for spec in (
        ActionSpec(
            "wait",
            {
                "type": "object",
                "properties": {"ms": {"type": "number", "minimum": 0, "maximum": MAX_WAIT_MS}},
            },
            Reversibility.REVERSIBLE,
            "Waits `ms` milliseconds (default 1000), reporting progress.",
        ),
        ActionSpec(
            "note",
            {
                "type": "object",
                "properties": {"key": {"type": "string", "minLength": 1, "maxLength": 200}},
                "required": ["key", "value"],
            },
            Reversibility.REVERSIBLE,
            "Stores `value` as the task's artifact `key`; undo restores the previous value.",
        ),
        ActionSpec(
            "announce",
            {
                "type": "object",
                "properties": {"message": {"type": "string", "minLength": 1, "maxLength": 2000}},
                "required": ["message"],
            },
            Reversibility.IRREVERSIBLE,
            "Publishes `message` in the task's log as sent to the outside world: it "
            "completes, but cannot be taken back, so undo refuses it.",
        ),
        ActionSpec(
            "fail",
            {"type": "object", "properties": {"message": {"type": "string"}}},
            Reversibility.IRREVERSIBLE,
            "Fails the step with `message`.",
        ),
    )
}


class BuiltinExecutor:
    """Runs the built-in actions in-process."""

    name = "builtin"
    actions = ACTIONS

    def plan(self, task: str, context: dict[str, Any]) -> list[StepSpec]:
        if "steps" not in context:
            return self._plan_from_text(task)
        return parse_steps(context["steps"], self.actions)

    def _plan_from_text(self, task: str) -> list[StepSpec]:
        """A short plan of waits: one per sentence-like part of the text, at most three."""
        parts = [p.strip() for p in task.replace("\n", ".").split(".") if p.strip()][:3]
        return [
            StepSpec(
                name=part[:80],
                action="wait",
                params={"ms": 300},
                description=f"Work on: {part[:200]}",
            )
            for part in parts or [task.strip()[:80]]
        ]

    async def run_step(
        self, step: StepSpec, params: dict[str, Any], ctx: StepContext
    ) -> StepOutcome:
        check_params(self.actions[step.action], params, where="params")
        if step.action == "wait":
            total_ms = float(params.get("ms", 1000))
            await _wait(total_ms, ctx)
            return StepOutcome(result={"waitedMs": total_ms}, rollback={})
        if step.action == "note":
            key, value = params["key"], params["value"]
            await ctx.checkpoint()
            existed, previous = await ctx.set_artifact(key, value)
            await ctx.log(f"stored artifact {key!r}")
            return StepOutcome(
                result={"key": key, "value": value},
                rollback={"key": key, "existed": existed, "previous": previous},
            )
        if step.action == "announce":
            await ctx.checkpoint()
            await ctx.log(f"announced: {params['message']}")
            return StepOutcome(result={"announced": params["message"]}, rollback=None)
        raise StepFailedError(str(params.get("message", "step failed")))

    async def rollback_step(
        self, step: StepSpec, rollback: dict[str, Any] | None, ctx: StepContext
    ) -> None:
        if step.action == "note" and rollback is not None:
            await ctx.restore_artifact(
                rollback["key"], existed=bool(rollback["existed"]), value=rollback["previous"]
            )
            await ctx.log(f"restored artifact {rollback['key']!r}")


async def _wait(total_ms: float, ctx: StepContext) -> None:
    """Sleep `total_ms` in short slices (cancellation checked after each); progress is
    reported PROGRESS_REPORTS times, evenly."""
    loop = asyncio.get_running_loop()
    total = total_ms / 1000
    started = loop.time()
    reported = 0
    while True:
        elapsed = loop.time() - started
        if elapsed >= total:
            break
        await asyncio.sleep(min(WAIT_SLICE_SECONDS, total - elapsed))
        await ctx.checkpoint()
        due = min(int((loop.time() - started) / total * PROGRESS_REPORTS), PROGRESS_REPORTS - 1)
        if due > reported:
            reported = due
            await ctx.progress(
                due / PROGRESS_REPORTS, f"waited {total_ms * due / PROGRESS_REPORTS:.0f} ms"
            )
    await ctx.progress(1.0, f"waited {total_ms:.0f} ms")
