"""The built-in executor: `wait`, `note` and `fail` steps, planned from the task or its context."""

from __future__ import annotations

import asyncio
from typing import Any

from engine.executor import (
    PlanError,
    Reversibility,
    StepContext,
    StepFailedError,
    StepOutcome,
    StepSpec,
)

MAX_STEPS = 100
MAX_WAIT_MS = 600_000
PROGRESS_REPORTS = 5
STEP_KEYS = {"name", "action", "params", "requiresApproval", "description"}
REVERSIBILITY: dict[str, Reversibility] = {
    "wait": "reversible",
    "note": "reversible",
    "fail": "irreversible",
}


def _check_params(action: str, params: dict[str, Any], where: str) -> None:
    if action == "wait":
        ms = params.get("ms", 1000)
        if isinstance(ms, bool) or not isinstance(ms, int | float) or not 0 <= ms <= MAX_WAIT_MS:
            raise PlanError(
                f"{where}.params.ms must be a number from 0 to {MAX_WAIT_MS}", field=where
            )
    elif action == "note":
        key = params.get("key")
        if not isinstance(key, str) or not key or len(key) > 200:
            raise PlanError(
                f"{where}.params.key must be a non-empty string of at most 200 characters",
                field=where,
            )
        if "value" not in params:
            raise PlanError(f"{where}.params.value is required for a note step", field=where)
    elif action == "fail":
        message = params.get("message", "step failed")
        if not isinstance(message, str):
            raise PlanError(f"{where}.params.message must be a string", field=where)


class BuiltinExecutor:
    """Runs the three built-in actions in-process."""

    name = "builtin"
    actions = ("wait", "note", "fail")

    def plan(self, task: str, context: dict[str, Any]) -> list[StepSpec]:
        if "steps" not in context:
            return self._plan_from_text(task)
        raw_steps = context["steps"]
        if not isinstance(raw_steps, list) or not raw_steps:
            raise PlanError(
                "context.steps must be a non-empty list of steps", field="context.steps"
            )
        if len(raw_steps) > MAX_STEPS:
            raise PlanError(f"context.steps has more than {MAX_STEPS} steps", field="context.steps")
        return [self._parse_step(raw, index) for index, raw in enumerate(raw_steps)]

    def _parse_step(self, raw: object, index: int) -> StepSpec:
        where = f"context.steps[{index}]"
        if not isinstance(raw, dict):
            raise PlanError(f"{where} must be an object", field=where)
        unknown = set(raw) - STEP_KEYS
        if unknown:
            raise PlanError(f"{where} has unknown keys: {', '.join(sorted(unknown))}", field=where)
        action = raw.get("action")
        if action not in self.actions:
            raise PlanError(
                f"{where}.action {action!r} is not a known action; use one of "
                + ", ".join(self.actions),
                field=where,
            )
        name = raw.get("name", action)
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise PlanError(
                f"{where}.name must be a non-empty string of at most 200 characters", field=where
            )
        params = raw.get("params", {})
        if not isinstance(params, dict):
            raise PlanError(f"{where}.params must be an object", field=where)
        requires_approval = raw.get("requiresApproval", False)
        if not isinstance(requires_approval, bool):
            raise PlanError(f"{where}.requiresApproval must be true or false", field=where)
        description = raw.get("description")
        if description is not None and not isinstance(description, str):
            raise PlanError(f"{where}.description must be a string", field=where)
        _check_params(action, params, where)
        return StepSpec(
            name=name.strip(),
            action=action,
            params=params,
            requires_approval=requires_approval,
            description=description,
            reversibility=REVERSIBILITY[action],
        )

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
        where = f"step {step.name!r}"
        _check_params(step.action, params, where)
        if step.action == "wait":
            total_ms = float(params.get("ms", 1000))
            for report in range(1, PROGRESS_REPORTS + 1):
                await asyncio.sleep(total_ms / 1000 / PROGRESS_REPORTS)
                await ctx.checkpoint()
                await ctx.progress(
                    report / PROGRESS_REPORTS,
                    f"waited {total_ms * report / PROGRESS_REPORTS:.0f} ms",
                )
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
        raise StepFailedError(str(params.get("message", "step failed")))

    async def rollback_step(
        self, step: StepSpec, rollback: dict[str, Any] | None, ctx: StepContext
    ) -> None:
        if step.action == "note" and rollback is not None:
            await ctx.restore_artifact(
                rollback["key"], existed=bool(rollback["existed"]), value=rollback["previous"]
            )
            await ctx.log(f"restored artifact {rollback['key']!r}")
