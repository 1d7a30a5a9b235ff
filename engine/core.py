"""The engine: scheduler loop, runners, leases, approval wake-ups and cancellation."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.engine import write_session
from db.models import Task, utcnow
from db.repositories.steps import steps_of_task
from db.repositories.tasks import recent_run_seconds, renew_lease, tasks_with_expired_lease
from domain.vocabulary import CancelMode, EventType, StepStatus, TaskStatus
from engine.actions import ActionSpec
from engine.approvals import cancel_everything, fail_pending_approvals
from engine.builtin import BuiltinExecutor
from engine.estimates import queue_estimates
from engine.executor import Executor
from engine.gate import ApprovalGate
from engine.journal import TaskTransaction, task_transaction
from engine.queue_updates import QueueUpdates
from engine.runner import TaskRunner
from engine.scheduler import (
    CANDIDATE_WINDOW,
    Limits,
    claim_tasks,
    estimated_wait_seconds,
)
from engine.stalls import flag_stalls
from subscriptions.bus import EventBus
from subscriptions.wire import STEP_IN_EVENT

logger = logging.getLogger(__name__)

SCHEDULER_TICK_SECONDS = 1.0
DEFAULT_RUN_SECONDS = 10.0
MAX_ATTEMPTS = 3
DEFAULT_RESUME_STALL_SECONDS = 60.0
ESTIMATE_TTL_SECONDS = 0.5


class Engine:
    """Owns the tasks this process runs; every state change goes through `transaction`."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        bus: EventBus,
        limits: Limits,
        approval_timeout: float,
        lease_seconds: float,
        progress_interval: float,
        executors: list[Executor] | None = None,
        max_attempts: int = MAX_ATTEMPTS,
        resume_stall_seconds: float = DEFAULT_RESUME_STALL_SECONDS,
    ) -> None:
        self.max_attempts = max_attempts
        self.resume_stall_seconds = resume_stall_seconds
        self.sessions = sessions
        self.bus = bus
        self.limits = limits
        self.approval_timeout = approval_timeout
        self.lease_seconds = lease_seconds
        self.progress_interval = progress_interval
        self.executors: dict[str, Executor] = {e.name: e for e in executors or [BuiltinExecutor()]}
        # What submit validates plans against for the executors that live in code.
        self.declared_executors: dict[str, Mapping[str, ActionSpec]] = {
            name: e.actions for name, e in self.executors.items()
        }
        self.instance_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.runner = TaskRunner(self)
        self.gate = ApprovalGate(self)
        self.average_run_seconds = DEFAULT_RUN_SECONDS
        self._running: dict[uuid.UUID, asyncio.Task[None]] = {}
        self._cancel_flags: set[uuid.UUID] = set()
        self._approval_signals: dict[uuid.UUID, asyncio.Event] = {}
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._stopping = False
        self._estimates: tuple[float, dict[uuid.UUID, float]] | None = None
        self.queue_updates = QueueUpdates(
            sessions=sessions,
            bus=bus,
            waits=lambda: self.estimated_waits(fresh=True),
            rough_wait=self.estimated_wait,
        )

    # lifecycle

    async def start(self) -> None:
        async with self.sessions() as session:
            samples = await recent_run_seconds(session)
        if samples:
            self.average_run_seconds = sum(samples) / len(samples)
        self._loop_task = asyncio.create_task(self._loop(), name="agentwire-scheduler")

    async def stop(self) -> None:
        """Stop scheduling; the tasks this process ran go back to the queue."""
        if self._stopping:
            return  # abandoned (or already stopped)
        self._stopping = True
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        held = list(self._running)
        runners = list(self._running.values())
        for runner in runners:
            runner.cancel()
        await asyncio.gather(*runners, return_exceptions=True)
        await self._requeue_at_shutdown(held)
        await self.queue_updates.stop()

    async def abandon(self) -> None:
        """Stop as a killed process would: no writes, leases left to lapse, so what recovers
        the tasks is the next instance's lease recovery (crash drills and tests)."""
        self._stopping = True
        tasks = [t for t in [self._loop_task, *self._running.values()] if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._running.clear()
        await self.queue_updates.stop()

    def transaction(self, task_id: uuid.UUID) -> AbstractAsyncContextManager[TaskTransaction]:
        return task_transaction(self.sessions, self.bus, task_id)

    def wake(self) -> None:
        """Ask the scheduler to look at the queue now (a task was submitted or ended)."""
        self._wake.set()

    # the loop

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        last_renewal = -self.lease_seconds
        while not self._stopping:
            # Renew well before a lease can lapse: three chances per lease period.
            renew = loop.time() - last_renewal >= self.lease_seconds / 3
            try:
                await self._tick(renew=renew)
                if renew:
                    last_renewal = loop.time()
            except Exception:
                logger.exception("scheduler tick failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), SCHEDULER_TICK_SECONDS)
            self._wake.clear()

    async def _tick(self, *, renew: bool) -> None:
        if renew:
            await self._renew_leases()
            await self.recover_expired()
        await self.gate.expire_due()
        await flag_stalls(self)
        claimed, events = await claim_tasks(
            self.sessions,
            limits=self.limits,
            owner=self.instance_id,
            lease_seconds=self.lease_seconds,
            executors=list(self.executors),
        )
        if events:
            await self.bus.publish(events)
        for task_id in claimed:
            self._spawn(task_id)
        if claimed:
            await self.publish_queue_updates()

    def _spawn(self, task_id: uuid.UUID) -> None:
        runner = asyncio.create_task(self._run(task_id), name=f"agentwire-task-{task_id}")
        self._running[task_id] = runner

    async def _run(self, task_id: uuid.UUID) -> None:
        started = asyncio.get_running_loop().time()
        try:
            async with self.sessions() as session:
                task = await session.get(Task, task_id)
                executor_name = task.executor if task is not None else "builtin"
            executor = self.executors.get(executor_name)
            if executor is None:
                await self.runner.cancel_run(
                    task_id, f"no executor named {executor_name!r} is available"
                )
                return
            await self.runner.run(task_id, executor)
            elapsed = asyncio.get_running_loop().time() - started
            self.average_run_seconds = 0.8 * self.average_run_seconds + 0.2 * elapsed
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("runner of task %s crashed", task_id)
        finally:
            self._running.pop(task_id, None)
            self._cancel_flags.discard(task_id)
            self.wake()

    async def _renew_leases(self) -> None:
        if not self._running:
            return
        async with write_session(self.sessions) as session:
            await renew_lease(
                session,
                list(self._running),
                owner=self.instance_id,
                expires_at=utcnow() + timedelta(seconds=self.lease_seconds),
            )

    async def _requeue_at_shutdown(self, task_ids: list[uuid.UUID]) -> None:
        """A graceful stop is not a failed attempt: the tasks this process ran go straight
        back to the queue (their interrupted step starts again) without using up one of
        their attempts. What cannot be written here, a kill, the lease's expiry recovers."""
        for task_id in task_ids:
            with contextlib.suppress(Exception):
                async with self.transaction(task_id) as tx:
                    if (
                        tx.task.status != TaskStatus.RUNNING
                        or tx.task.lease_owner != self.instance_id
                    ):
                        continue
                    tx.task.attempts = max(tx.task.attempts - 1, 0)
                    await self.requeue(tx, reason="the server stopped")

    async def recover_expired(self) -> None:
        """Tasks whose runner vanished (a crash, a stop, a worker whose lease lapsed) go back
        to the queue, or fail; also called before a worker's claim, so API-only instances
        (no scheduler loop) recover too."""
        async with self.sessions() as session:
            expired = await tasks_with_expired_lease(session, utcnow())
        for task_id in expired:
            if task_id in self._running:
                continue
            async with self.transaction(task_id) as tx:
                lease = tx.task.lease_expires_at
                if tx.task.status not in TaskStatus.ACTIVE or (
                    lease is not None and lease > utcnow()
                ):
                    continue
                if tx.task.status == TaskStatus.AWAITING_APPROVAL and tx.task.lease_token is None:
                    continue  # parked by this engine: it waits for its decision, not a runner
                await self.requeue(tx)

    async def requeue(self, tx: TaskTransaction, *, reason: str | None = None) -> None:
        """Back to the queue: the running step restarts, completed steps stay done. With a
        `reason` (a graceful stop or a worker's release) it is not an ERROR, just a log."""
        # The old lease token fences nothing in any more: the next claim issues a new one.
        tx.task.lease_token = None
        if tx.task.cancel_requested:
            # Cancelled, and the runner never acknowledged within its lease: it is fenced
            # (its token is dead) and the task ends cancelled rather than running again.
            tx.task.lease_owner = None
            await cancel_everything(
                tx, message="cancelled; the runner did not stop within its lease"
            )
            return
        if tx.task.attempts >= self.max_attempts:
            tx.task.error = {
                "code": "LEASE_EXPIRED",
                "message": "the task's runner stopped answering too often",
            }
            tx.emit(EventType.ERROR, message=tx.task.error["message"], error=tx.task.error)
            await fail_pending_approvals(tx, message=tx.task.error["message"])
            tx.set_status(TaskStatus.FAILED, message=tx.task.error["message"])
            return
        waiting = False
        for step in await steps_of_task(tx.session, tx.task.id):
            waiting = waiting or step.status == StepStatus.AWAITING_APPROVAL
            if step.status == StepStatus.RUNNING:
                step.status = StepStatus.PENDING
                step.progress = 0.0
                tx.emit(
                    EventType.STEP_PROGRESS,
                    step=STEP_IN_EVENT(step),
                    progress=0.0,
                    message="restarting after the runner stopped",
                )
        owner = tx.task.lease_owner or "the runner"
        tx.task.lease_owner = None
        tx.task.lease_expires_at = None
        # A step still waiting for its decision keeps the task parked (answerable, no lease):
        # the decision, not the queue, brings it back.
        requeued = TaskStatus.AWAITING_APPROVAL if waiting else TaskStatus.PENDING
        if reason is not None:
            tx.log(f"requeued: {reason}")
            tx.set_status(requeued, message=f"requeued: {reason}")
            self.wake()
            return
        error = {
            "code": "LEASE_EXPIRED",
            "message": f"the lease of {owner} expired; the task goes back to the queue "
            f"(attempt {tx.task.attempts} of {self.max_attempts})",
        }
        tx.emit(EventType.ERROR, message=error["message"], error=error)
        tx.set_status(requeued, message="requeued after the runner stopped")
        self.wake()

    # signals from resolvers

    def request_cancel(self, task_id: uuid.UUID, *, mode: str = CancelMode.IMMEDIATE) -> None:
        """`immediate` stops the running step at its next checkpoint; `after_step` lets it
        finish (the runner then starts no further step)."""
        if mode == CancelMode.IMMEDIATE:
            self._cancel_flags.add(task_id)

    def cancel_requested(self, task_id: uuid.UUID) -> bool:
        return task_id in self._cancel_flags

    async def cancel_flag_in_database(self, task_id: uuid.UUID) -> bool:
        async with self.sessions() as session:
            result = await session.execute(
                select(Task.cancel_requested, Task.cancel_mode).where(Task.id == task_id)
            )
            row = result.one_or_none()
            return row is not None and bool(row[0]) and row[1] != CancelMode.AFTER_STEP

    def approval_decided(self, approval_id: uuid.UUID) -> None:
        signal = self._approval_signals.get(approval_id)
        if signal is not None:
            signal.set()
        self.wake()  # a decided request puts its parked task back in the queue

    async def wait_for_approval(self, approval_id: uuid.UUID, *, timeout: float) -> None:
        signal = self._approval_signals.setdefault(approval_id, asyncio.Event())
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(signal.wait(), timeout)
        finally:
            if signal.is_set():
                self._approval_signals.pop(approval_id, None)

    # the queue

    def estimated_wait(self, position: int) -> float:
        """The rough rule, for a task beyond the window `estimated_waits` replays."""
        return estimated_wait_seconds(
            position, average_run_seconds=self.average_run_seconds, slots=self.limits.max_running
        )

    async def estimated_waits(
        self, *, fresh: bool = False, session: AsyncSession | None = None
    ) -> dict[uuid.UUID, float]:
        """Seconds to start of each pending task (engine/estimates.py), shared by every
        reader for ESTIMATE_TTL_SECONDS so a page of tasks costs one replay. A caller that
        holds a session passes it: opening a second one while holding the first would
        deadlock the pool once as many readers as it has connections do the same."""
        now = asyncio.get_running_loop().time()
        if fresh or self._estimates is None or now - self._estimates[0] > ESTIMATE_TTL_SECONDS:
            if session is not None:
                waits = await queue_estimates(
                    session, limits=self.limits, average_seconds=self.average_run_seconds
                )
            else:
                async with self.sessions() as own:
                    waits = await queue_estimates(
                        own, limits=self.limits, average_seconds=self.average_run_seconds
                    )
            self._estimates = (now, waits)
        return self._estimates[1]

    async def estimated_wait_of(
        self, task_id: uuid.UUID, position: int, *, session: AsyncSession | None = None
    ) -> float:
        waits = await self.estimated_waits(session=session)
        if task_id not in waits and position <= CANDIDATE_WINDOW:
            # Queued since the last replay; beyond the window the rough rule answers,
            # rather than a replay per read.
            waits = await self.estimated_waits(fresh=True, session=session)
        return waits.get(task_id, self.estimated_wait(position))

    async def publish_queue_updates(self) -> None:
        """The queue changed: its watchers get their new position and estimated wait from
        one shared pass soon after (engine/queue_updates.py), not one per caller."""
        self.queue_updates.changed()

    @property
    def running_task_ids(self) -> list[uuid.UUID]:
        return list(self._running)


@contextlib.asynccontextmanager
async def running_engine(engine: Engine) -> AsyncIterator[Engine]:
    await engine.start()
    try:
        yield engine
    finally:
        await engine.stop()
