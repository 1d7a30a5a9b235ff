"""Worker leases (issue 12): a remote engine claims a task under a lease with a secret token,
and each of its writes is fenced by that token and ordered by a per-lease sequence.

A claim goes through the same scheduler rules as the embedded engine (priority, then age,
within the global and per-user limits); on PostgreSQL candidates are locked with
`FOR UPDATE SKIP LOCKED`, so concurrent claims never take the same task, and on SQLite the
claim holds the database's single write lock (BEGIN IMMEDIATE), which is the atomic
conditional update there.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from db.engine import claim_write_lock
from db.models import Task, utcnow
from db.repositories.tasks import (
    lock_pending_candidates,
    lock_scheduler,
    lock_undo_candidate,
    running_counts,
)
from domain.vocabulary import TaskStatus
from engine.journal import TaskTransaction
from engine.scheduler import CANDIDATE_WINDOW, choose
from subscriptions.envelope import Event

if TYPE_CHECKING:
    from engine.core import Engine


class LeaseLostError(Exception):
    """The write's lease token is not the task's current one (expired, fenced or foreign)."""


@dataclass(frozen=True, slots=True)
class Claimed:
    task_id: uuid.UUID
    token: str
    expires_at: datetime
    undo: bool = False


def _lease(task: Task, *, owner: str, lease_seconds: float) -> str:
    token = secrets.token_urlsafe(32)
    task.lease_owner = owner[:128]
    task.lease_token = token
    task.lease_sequence = 0
    task.lease_expires_at = utcnow() + timedelta(seconds=lease_seconds)
    return token


async def claim_for_worker(
    engine: Engine, *, executors: Collection[str], owner: str, lease_seconds: float
) -> tuple[Claimed | None, list[Event]]:
    """The next work of `executors` under a new lease: first a queued undo (it takes no
    running slot and leaves the task's status alone), else the next task the limits allow,
    moved to `running`."""
    async with engine.sessions() as session, session.begin():
        await claim_write_lock(session)
        await lock_scheduler(session)
        undo = await lock_undo_candidate(session, executors=executors, now=utcnow())
        if undo is not None:
            if undo.lease_token is not None:
                TaskTransaction(session, undo).log(
                    f"the undo's previous worker stopped answering; {owner} takes it over"[:500]
                )
            token = _lease(undo, owner=owner, lease_seconds=lease_seconds)
            assert undo.lease_expires_at is not None
            return Claimed(undo.id, token, undo.lease_expires_at, undo=True), []
        running, per_user = await running_counts(session)
        if running >= engine.limits.max_running:
            return None, []
        candidates = list(
            await lock_pending_candidates(session, limit=CANDIDATE_WINDOW, executors=executors)
        )
        chosen = choose(candidates, running=running, per_user=per_user, limits=engine.limits)
        if not chosen:
            return None, []
        task = chosen[0]
        token = _lease(task, owner=owner, lease_seconds=lease_seconds)
        assert task.lease_expires_at is not None
        task.attempts += 1
        tx = TaskTransaction(session, task)
        tx.set_status(TaskStatus.RUNNING, message=f"claimed by {owner}"[:500])
        claimed = Claimed(task.id, token, task.lease_expires_at)
    return claimed, list(tx.events)


@dataclass(slots=True)
class LeasedWrite:
    """A write under a lease: `tx` to change the task; `applied` False for a repeat."""

    tx: TaskTransaction
    applied: bool


@asynccontextmanager
async def leased_write(
    engine: Engine, task_id: uuid.UUID, *, token: str, sequence: int | None
) -> AsyncIterator[LeasedWrite]:
    """Open the task's transaction if `token` holds its lease (a running task's, or a
    finished task's queued undo). A `sequence` not above the last applied one is a retry:
    the caller answers it again and applies nothing."""
    async with engine.transaction(task_id) as tx:
        task = tx.task
        current = task.lease_token
        if (
            current is None
            or not secrets.compare_digest(current, token)
            or (task.status not in TaskStatus.ACTIVE and task.undo_step_ids is None)
        ):
            raise LeaseLostError
        if sequence is not None and sequence <= task.lease_sequence:
            yield LeasedWrite(tx, applied=False)
            return
        if sequence is not None:
            task.lease_sequence = sequence
        yield LeasedWrite(tx, applied=True)


def end_lease(tx: TaskTransaction) -> None:
    """The task no longer belongs to a worker: its token stops fencing anything in."""
    tx.task.lease_token = None
    tx.task.lease_owner = None
    tx.task.lease_expires_at = None
