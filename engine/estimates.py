"""Estimated waits: when each pending task will start, by replaying the scheduler's rules.

One function for every caller (GraphQL, REST, queue_update events): the pending tasks are
placed on the slots in queue order, each start respecting the global and the per-user
limit, after the running tasks ahead finish. A task's duration is known where its plan
says (the built-in `wait` action's `ms`; `note`/`announce` only the step overhead; a step that needs
approval ends the run, since the task parks without a slot); otherwise it is the moving
average run time. See docs/decisions.md, "Estimated wait".
"""

from __future__ import annotations

import heapq
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Task, TaskStep, utcnow
from db.repositories.steps import steps_by_task_ids
from db.repositories.tasks import pending_in_queue_order
from domain.vocabulary import StepStatus, TaskStatus
from engine.scheduler import CANDIDATE_WINDOW, Limits

INSTANT_ACTIONS = ("note", "announce", "fail")
# Every step still costs its own transactions and events, even one that does nothing.
STEP_OVERHEAD_SECONDS = 0.05


@dataclass(frozen=True, slots=True)
class Slotted:
    """A task in the replay: whose it is and how many seconds it still needs."""

    task_id: uuid.UUID
    user_id: uuid.UUID
    seconds: float


def start_times(
    running: Sequence[Slotted], queued: Sequence[Slotted], limits: Limits
) -> dict[uuid.UUID, float]:
    """Seconds from now until each of `queued` (in queue order) starts."""
    finishing: list[tuple[float, int, uuid.UUID]] = []  # (finish time, tie-break, user)
    per_user: dict[uuid.UUID, int] = {}
    for index, task in enumerate(running):
        heapq.heappush(finishing, (max(task.seconds, 0.0), index, task.user_id))
        per_user[task.user_id] = per_user.get(task.user_id, 0) + 1
    waiting = list(queued)
    starts: dict[uuid.UUID, float] = {}
    now, tie = 0.0, len(running)
    while waiting:
        still: list[Slotted] = []
        for task in waiting:
            fits = len(finishing) < limits.max_running
            if fits and per_user.get(task.user_id, 0) < limits.max_running_per_user:
                starts[task.task_id] = now
                per_user[task.user_id] = per_user.get(task.user_id, 0) + 1
                tie += 1
                heapq.heappush(finishing, (now + max(task.seconds, 0.0), tie, task.user_id))
            else:
                still.append(task)
        waiting = still
        if not waiting or not finishing:
            break
        now, _, user = heapq.heappop(finishing)
        per_user[user] -= 1
        while finishing and finishing[0][0] <= now:
            _, _, other = heapq.heappop(finishing)
            per_user[other] -= 1
    return starts


def remaining_seconds(steps: Sequence[TaskStep], *, average_seconds: float, now: datetime) -> float:
    """What the task's plan says it still needs; the average where the plan cannot say."""
    total = 0.0
    for step in steps:
        if step.status not in StepStatus.OPEN:
            continue
        if step.requires_approval and step.status != StepStatus.RUNNING:
            break  # it parks here and gives its slot back
        total += STEP_OVERHEAD_SECONDS
        if step.action == "wait" and isinstance(step.params.get("ms"), int | float):
            seconds = float(step.params["ms"]) / 1000
            if step.status == StepStatus.RUNNING and step.started_at is not None:
                seconds -= (now - step.started_at).total_seconds()
            total += max(seconds, 0.0)
        elif step.action not in INSTANT_ACTIONS:
            return average_seconds
    return total


async def queue_estimates(
    session: AsyncSession, *, limits: Limits, average_seconds: float
) -> dict[uuid.UUID, float]:
    """Estimated seconds to start of the first CANDIDATE_WINDOW pending tasks."""
    running_rows = (
        await session.execute(select(Task).where(Task.status == TaskStatus.RUNNING))
    ).scalars()
    running_tasks = list(running_rows.all())
    pending = list(await pending_in_queue_order(session, limit=CANDIDATE_WINDOW))
    tasks = running_tasks + pending
    grouped = await steps_by_task_ids(session, [t.id for t in tasks]) if tasks else []
    now = utcnow()
    slotted = [
        Slotted(t.id, t.user_id, remaining_seconds(s, average_seconds=average_seconds, now=now))
        for t, s in zip(tasks, grouped, strict=True)
    ]
    starts = start_times(slotted[: len(running_tasks)], slotted[len(running_tasks) :], limits)
    return {task_id: round(seconds, 2) for task_id, seconds in starts.items()}
