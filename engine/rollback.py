"""Undo: roll completed steps back in reverse order, through each step's own rollback."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from db.models import Task, TaskStep, utcnow
from db.repositories.steps import get_step, steps_of_task
from engine.journal import step_snapshot
from engine.runner import RunContext, spec_of
from subscriptions.envelope import EventType

if TYPE_CHECKING:
    from engine.core import Engine

UNDOABLE_TASK_STATUSES = ("completed", "failed", "cancelled", "rolled_back")


class UndoRefusedError(Exception):
    """The undo cannot run; nothing was changed. `reason` says why, `hint` what to do."""

    def __init__(self, reason: str, hint: str, *, not_found: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.hint = hint
        self.not_found = not_found


@dataclass(frozen=True, slots=True)
class UndoPlan:
    step_ids: list[uuid.UUID]


def plan_undo(task_status: str, steps: list[TaskStep], down_to: uuid.UUID | None) -> UndoPlan:
    """Which completed steps to roll back, newest first, or why none can be."""
    if task_status not in UNDOABLE_TASK_STATUSES:
        raise UndoRefusedError(
            f"the task is {task_status}; only a finished task can be undone",
            "cancel the task or wait for it to finish, then undo",
        )
    completed = [s for s in steps if s.status == "completed"]
    if not completed:
        raise UndoRefusedError("the task has no completed step to undo", "nothing to do")
    if down_to is None:
        target = completed[-1]
    else:
        matches = [s for s in steps if s.id == down_to]
        if not matches:
            raise UndoRefusedError(
                "no step with that id belongs to this task",
                "use a step id from Task.steps",
                not_found=True,
            )
        target = matches[0]
        if target.status != "completed":
            raise UndoRefusedError(
                f"step {target.name!r} is {target.status}, not completed",
                "undo down to a completed step",
            )
    chosen = sorted(
        (s for s in completed if s.position >= target.position), key=lambda s: -s.position
    )
    blocked = [s for s in chosen if s.reversibility == "irreversible" or s.rollback is None]
    if blocked:
        names = ", ".join(repr(s.name) for s in blocked)
        raise UndoRefusedError(
            f"step {names} cannot be rolled back", "undo only down to a step after it"
        )
    return UndoPlan(step_ids=[s.id for s in chosen])


async def run_undo(engine: Engine, task_id: uuid.UUID, plan: UndoPlan) -> None:
    """Roll back each planned step; each step commits with its `step_rolled_back` event."""
    async with engine.transaction(task_id) as tx:
        tx.emit(EventType.UNDO_START, message=f"rolling back {len(plan.step_ids)} step(s)")
    for step_id in plan.step_ids:
        async with engine.sessions() as session:
            step = await get_step(session, step_id)
            assert step is not None
            spec, rollback = spec_of(step), step.rollback
        executor = engine.executors[await _executor_name(engine, task_id)]
        await executor.rollback_step(spec, rollback, RunContext(engine, task_id, step_id))
        async with engine.transaction(task_id) as tx:
            step = await get_step(tx.session, step_id)
            assert step is not None
            step.status = "rolled_back"
            step.finished_at = utcnow()
            tx.emit(EventType.STEP_ROLLED_BACK, step=step_snapshot(step))
    async with engine.transaction(task_id) as tx:
        remaining = [s for s in await steps_of_task(tx.session, task_id) if s.status == "completed"]
        if not remaining:
            tx.set_status("rolled_back", message="every completed step was rolled back")
        tx.emit(EventType.UNDO_COMPLETE, message=f"rolled back {len(plan.step_ids)} step(s)")


async def _executor_name(engine: Engine, task_id: uuid.UUID) -> str:
    async with engine.sessions() as session:
        task = await session.get(Task, task_id)
        return task.executor if task is not None else "builtin"
