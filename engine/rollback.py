"""Undo: roll completed steps back in reverse order, through each step's own rollback."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from db.models import Task, TaskStep, utcnow
from db.repositories.steps import get_step, steps_of_task
from domain.vocabulary import EventType, Reversibility, StepStatus, TaskStatus
from engine.journal import TaskTransaction
from engine.step_context import RunContext, spec_of
from subscriptions.wire import STEP_IN_EVENT

if TYPE_CHECKING:
    from engine.core import Engine

logger = logging.getLogger(__name__)


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


def plan_undo(
    task_status: str,
    steps: list[TaskStep],
    down_to: uuid.UUID | None,
) -> UndoPlan:
    """Which completed steps to roll back, newest first, or why none can be; the same rule
    whichever engine ran the task (an irreversible step, or one that left no rollback
    data, blocks the undo; compensatable and reversible steps can be rolled back)."""
    if task_status not in TaskStatus.FINISHED:
        raise UndoRefusedError(
            f"the task is {task_status}; only a finished task can be undone",
            "cancel the task or wait for it to finish, then undo",
        )
    completed = [s for s in steps if s.status == StepStatus.COMPLETED]
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
        if target.status != StepStatus.COMPLETED:
            raise UndoRefusedError(
                f"step {target.name!r} is {target.status}, not completed",
                "undo down to a completed step",
            )
    chosen = sorted(
        (s for s in completed if s.position >= target.position), key=lambda s: -s.position
    )
    blocked = [
        s for s in chosen if s.reversibility == Reversibility.IRREVERSIBLE or s.rollback is None
    ]
    if blocked:
        names = ", ".join(repr(s.name) for s in blocked)
        raise UndoRefusedError(
            f"step {names} cannot be rolled back", "undo only down to a step after it"
        )
    return UndoPlan(step_ids=[s.id for s in chosen])


UNDO_RESERVATION_SECONDS = 300


class UndoFailedError(Exception):
    """A step's rollback failed; the steps before it stay rolled back."""


def reserve_undo(tx: TaskTransaction) -> str:
    """Mark the task as being undone, across every instance; refused while another undo runs.

    A finished task has no runner, so its lease columns are free to carry the mark; it
    lapses by itself if the undoing process dies.
    """
    task = tx.task
    now = utcnow()
    _refuse_a_second_undo(task)
    task.lease_owner = f"undo:{uuid.uuid4().hex}"
    task.lease_expires_at = now + timedelta(seconds=UNDO_RESERVATION_SECONDS)
    return task.lease_owner


def _refuse_a_second_undo(task: Task) -> None:
    running = task.lease_owner and task.lease_expires_at and task.lease_expires_at > utcnow()
    if running or task.undo_step_ids is not None:
        raise UndoRefusedError(
            "an undo of this task is already running", "wait for it to finish, then read the task"
        )


def queue_undo(tx: TaskTransaction, plan: UndoPlan) -> None:
    """For a task a remote worker ran: the rollbacks run in that executor's own code, so the
    undo is queued on the task for a worker of its executor to claim (engine/leases.py)."""
    _refuse_a_second_undo(tx.task)
    tx.task.undo_step_ids = [str(step_id) for step_id in plan.step_ids]
    tx.emit(EventType.UNDO_START, message=f"rolling back {len(plan.step_ids)} step(s)")


def mark_rolled_back(tx: TaskTransaction, step: TaskStep) -> None:
    step.status = StepStatus.ROLLED_BACK
    step.finished_at = utcnow()
    tx.emit(EventType.STEP_ROLLED_BACK, step=STEP_IN_EVENT(step))


async def finish_undo(tx: TaskTransaction, *, rolled_back: int) -> None:
    """The undo's end: `rolled_back` once no completed step is left, and `undo_complete`."""
    steps = await steps_of_task(tx.session, tx.task.id)
    if not any(s.status == StepStatus.COMPLETED for s in steps):
        tx.set_status(TaskStatus.ROLLED_BACK, message="every completed step was rolled back")
    tx.emit(EventType.UNDO_COMPLETE, message=f"rolled back {rolled_back} step(s)")
    tx.task.undo_step_ids = None


def fail_undo(tx: TaskTransaction, *, step_name: str) -> str:
    """A step's rollback failed: the undo ends there; the steps after it stay rolled back."""
    message = f"rolling back step {step_name!r} failed; the steps after it stay rolled back"
    tx.emit(EventType.ERROR, message=message, error={"code": "ROLLBACK_FAILED"})
    tx.emit(EventType.UNDO_COMPLETE, message=message)
    tx.task.undo_step_ids = None
    return message


async def run_undo(engine: Engine, task_id: uuid.UUID, plan: UndoPlan, *, reservation: str) -> None:
    """Roll back each planned step; each step commits with its `step_rolled_back` event."""
    try:
        async with engine.transaction(task_id) as tx:
            tx.emit(EventType.UNDO_START, message=f"rolling back {len(plan.step_ids)} step(s)")
        for step_id in plan.step_ids:
            await _roll_back_step(engine, task_id, step_id)
        async with engine.transaction(task_id) as tx:
            await finish_undo(tx, rolled_back=len(plan.step_ids))
    finally:
        async with engine.transaction(task_id) as tx:
            if tx.task.lease_owner == reservation:
                tx.task.lease_owner = None
                tx.task.lease_expires_at = None


async def _roll_back_step(engine: Engine, task_id: uuid.UUID, step_id: uuid.UUID) -> None:
    async with engine.sessions() as session:
        step = await get_step(session, step_id)
        assert step is not None
        spec, rollback, name = spec_of(step), step.rollback, step.name
    executor = engine.executors[await _executor_name(engine, task_id)]
    try:
        await executor.rollback_step(spec, rollback, RunContext(engine, task_id, step_id))
    except Exception as error:
        logger.exception("rolling back step %s of task %s failed", step_id, task_id)
        async with engine.transaction(task_id) as tx:
            message = fail_undo(tx, step_name=name)
        raise UndoFailedError(message) from error
    async with engine.transaction(task_id) as tx:
        step = await get_step(tx.session, step_id)
        assert step is not None
        mark_rolled_back(tx, step)


async def _executor_name(engine: Engine, task_id: uuid.UUID) -> str:
    async with engine.sessions() as session:
        task = await session.get(Task, task_id)
        return task.executor if task is not None else "builtin"
