"""Undo of a task a remote worker ran (issue 12): the worker that claims the queued undo
runs its rollback handlers and reports each step rolled back, then the undo's end. The
events are the ones the built-in executor's undo produces (engine/rollback.py), in the
same order: `undo_start` (when the undo was asked for), `step_rolled_back` per step, then
`status_change` to `rolled_back` (when no completed step is left) and `undo_complete`; or,
when a rollback fails, `error` (`ROLLBACK_FAILED`) and `undo_complete`."""

from __future__ import annotations

import uuid
from typing import Any

from db.models import TaskStep
from domain.vocabulary import LogLevel, StepStatus
from engine.leases import LeasedWrite, end_lease
from engine.rollback import fail_undo, finish_undo, mark_rolled_back
from resolvers.context import RequestContext
from resolvers.errors import ConflictError
from resolvers.worker import Ack, checked_error, step_of_lease, write_under_lease
from subscriptions.wire import STEP_IN_EVENT


def _planned(write: LeasedWrite) -> list[str]:
    planned = write.tx.task.undo_step_ids
    if planned is None:
        raise ConflictError(
            "no undo is queued on this task",
            hint="only a claim of undo work (its `undo` lists the steps) reports rollbacks",
        )
    return [str(step_id) for step_id in planned]


async def _next_to_roll_back(write: LeasedWrite, planned: list[str]) -> TaskStep | None:
    """The first planned step still completed: rollbacks go newest first, one at a time."""
    for step_id in planned:
        step = await step_of_lease(write, uuid.UUID(step_id))
        if step.status == StepStatus.COMPLETED:
            return step
    return None


async def report_rolled_back(
    ctx: RequestContext, *, task_id: uuid.UUID, step_id: uuid.UUID, token: Any, sequence: Any
) -> Ack:
    """The worker's rollback handler of `step_id` succeeded: the step is `rolled_back`."""
    async with write_under_lease(ctx, task_id, token, sequence) as write:
        step = await step_of_lease(write, step_id)
        if not write.applied:
            return Ack(False, sequence, {"step": STEP_IN_EVENT(step)})
        planned = _planned(write)
        if str(step_id) not in planned:
            raise ConflictError(
                f"step {step_id} is not in this undo",
                hint="roll back only the steps the claim's `undo` lists",
            )
        expected = await _next_to_roll_back(write, planned)
        if expected is None or expected.id != step.id:
            raise ConflictError(
                f"step {step_id} is {step.status}; the next step to roll back is "
                + (str(expected.id) if expected is not None else "none"),
                hint="roll the steps back in the order `undo` lists them, newest first",
            )
        mark_rolled_back(write.tx, step)
        return Ack(True, sequence, {"step": STEP_IN_EVENT(step)})


async def complete_undo(
    ctx: RequestContext, *, task_id: uuid.UUID, token: Any, sequence: Any
) -> Ack:
    """Every planned step is rolled back: the undo ends (and the worker's lease with it)."""
    async with write_under_lease(ctx, task_id, token, sequence) as write:
        if not write.applied:
            return Ack(False, sequence)
        planned = _planned(write)
        left = await _next_to_roll_back(write, planned)
        if left is not None:
            raise ConflictError(
                f"step {left.id} is not rolled back yet",
                hint="report each planned step rolled back (or fail the undo) first",
            )
        await finish_undo(write.tx, rolled_back=len(planned))
        end_lease(write.tx)
        status = write.tx.task.status
    return Ack(True, sequence, {"status": status})


async def fail_undo_step(
    ctx: RequestContext,
    *,
    task_id: uuid.UUID,
    step_id: uuid.UUID,
    token: Any,
    sequence: Any,
    error: Any,
) -> Ack:
    """The rollback of `step_id` failed: the undo ends there; the steps rolled back before
    it stay rolled back, and `step_id` stays completed."""
    failure = checked_error(error)
    async with write_under_lease(ctx, task_id, token, sequence) as write:
        step = await step_of_lease(write, step_id)
        if not write.applied:
            return Ack(False, sequence)
        planned = _planned(write)
        if str(step_id) not in planned:
            raise ConflictError(
                f"step {step_id} is not in this undo",
                hint="fail the undo naming the step whose rollback failed",
            )
        write.tx.log(failure["message"], level=LogLevel.ERROR, step_id=step_id, data=failure)
        fail_undo(write.tx, step_name=step.name)
        end_lease(write.tx)
        status = write.tx.task.status
    return Ack(True, sequence, {"status": status})
