"""Runs one claimed task step by step, through approval gates, to its end."""

from __future__ import annotations

import logging
import time
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from db.models import ApprovalRequest, TaskStep, utcnow
from db.repositories.steps import (
    get_approval,
    get_step,
    granted_approval_exists,
    pending_approval_for_step,
    steps_of_task,
)
from db.repositories.tasks import get_task
from engine.approvals import cancel_everything, record_decision
from engine.executor import (
    ApprovalDecision,
    Executor,
    StepCancelledError,
    StepFailedError,
    StepOutcome,
    StepSpec,
)
from engine.journal import TaskTransaction, approval_snapshot, step_snapshot
from subscriptions.envelope import EventType

if TYPE_CHECKING:
    from engine.core import Engine

logger = logging.getLogger(__name__)

OPEN_STEP_STATUSES = ("pending", "running", "awaiting_approval")
APPROVAL_POLL_SECONDS = 1.0
CANCEL_POLL_SECONDS = 1.0


def spec_of(step: TaskStep) -> StepSpec:
    return StepSpec(
        name=step.name,
        action=step.action,
        params=dict(step.params),
        requires_approval=step.requires_approval,
        description=step.description,
        reversibility=step.reversibility,  # type: ignore[arg-type]
    )


class RunContext:
    """The `StepContext` a step sees while it runs (or while it is rolled back)."""

    def __init__(self, engine: Engine, task_id: uuid.UUID, step_id: uuid.UUID) -> None:
        self._engine = engine
        self._task_id = task_id
        self._step_id = step_id
        self._last_progress = 0.0
        self._last_cancel_check = time.monotonic()

    @property
    def task_id(self) -> str:
        return str(self._task_id)

    @property
    def cancelled(self) -> bool:
        return self._engine.cancel_requested(self._task_id)

    async def checkpoint(self) -> None:
        if self.cancelled:
            raise StepCancelledError
        if time.monotonic() - self._last_cancel_check >= CANCEL_POLL_SECONDS:
            self._last_cancel_check = time.monotonic()
            if await self._engine.cancel_flag_in_database(self._task_id):
                raise StepCancelledError

    async def progress(self, fraction: float, message: str | None = None) -> None:
        fraction = min(max(float(fraction), 0.0), 1.0)
        now = time.monotonic()
        if fraction < 1.0 and now - self._last_progress < self._engine.progress_interval:
            return
        self._last_progress = now
        async with self._engine.transaction(self._task_id) as tx:
            if tx.task.cancel_requested:
                raise StepCancelledError
            step = await get_step(tx.session, self._step_id)
            assert step is not None
            step.progress = fraction
            tx.emit(
                EventType.STEP_PROGRESS,
                step=step_snapshot(step),
                progress=fraction,
                message=message,
            )

    async def log(
        self, message: str, *, level: str = "info", data: dict[str, Any] | None = None
    ) -> None:
        async with self._engine.transaction(self._task_id) as tx:
            tx.log(message, level=level, step_id=self._step_id, data=data)

    async def set_artifact(self, key: str, value: Any) -> tuple[bool, Any]:
        async with self._engine.transaction(self._task_id) as tx:
            artifacts = dict(tx.task.artifacts)
            existed, previous = key in artifacts, artifacts.get(key)
            artifacts[key] = value
            tx.task.artifacts = artifacts
            return existed, previous

    async def restore_artifact(self, key: str, *, existed: bool, value: Any) -> None:
        async with self._engine.transaction(self._task_id) as tx:
            artifacts = dict(tx.task.artifacts)
            if existed:
                artifacts[key] = value
            else:
                artifacts.pop(key, None)
            tx.task.artifacts = artifacts

    async def request_approval(self, prompt: str, parameters: dict[str, Any]) -> ApprovalDecision:
        return await self._engine.runner.await_approval(
            self._task_id, self._step_id, prompt=prompt, parameters=parameters
        )


class TaskRunner:
    """The step loop of the engine; one coroutine per running task."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def run(self, task_id: uuid.UUID, executor: Executor) -> None:
        steps = await self._open_steps(task_id)
        for step_id in steps:
            try:
                proceed = await self._run_step(task_id, step_id, executor)
            except StepCancelledError:
                await self.cancel_run(task_id, "cancelled while running")
                return
            except StepFailedError as failure:
                await self._fail(task_id, step_id, str(failure))
                return
            except Exception:
                logger.exception("step %s of task %s crashed", step_id, task_id)
                await self._fail(task_id, step_id, "the step crashed inside the executor")
                return
            if not proceed:
                return
        await self._complete(task_id)

    async def _open_steps(self, task_id: uuid.UUID) -> list[uuid.UUID]:
        async with self.engine.sessions() as session:
            steps = await steps_of_task(session, task_id)
        return [step.id for step in steps if step.status in OPEN_STEP_STATUSES]

    async def _run_step(self, task_id: uuid.UUID, step_id: uuid.UUID, executor: Executor) -> bool:
        """Run one step; False when the task ended (cancelled) and the loop must stop."""
        async with self.engine.sessions() as session:
            step = await get_step(session, step_id)
            assert step is not None
            needs_gate = (
                step.requires_approval
                and step.status != "running"
                and not await granted_approval_exists(session, step_id)
            )
            prompt = f"Approve step {step.position + 1}: {step.name}"
            parameters = dict(step.params)
        if needs_gate:
            decision = await self.await_approval(
                task_id, step_id, prompt=prompt, parameters=parameters
            )
            if decision.status == "cancelled":
                return False
            if not decision.granted:
                return await self._still_running(task_id)

        async with self.engine.transaction(task_id) as tx:
            if tx.task.cancel_requested or tx.task.status != "running":
                raise StepCancelledError
            step = await get_step(tx.session, step_id)
            assert step is not None
            if step.status == "skipped":
                return True
            step.status = "running"
            step.progress = 0.0
            step.started_at = utcnow()
            spec = spec_of(step)
            tx.emit(EventType.STEP_START, step=step_snapshot(step))

        outcome: StepOutcome = await executor.run_step(
            spec, spec.params, RunContext(self.engine, task_id, step_id)
        )

        async with self.engine.transaction(task_id) as tx:
            step = await get_step(tx.session, step_id)
            assert step is not None
            step.status = "completed"
            step.progress = 1.0
            step.result = outcome.result
            step.rollback = outcome.rollback
            step.finished_at = utcnow()
            tx.emit(
                EventType.STEP_COMPLETE,
                step=step_snapshot(step),
                result=outcome.result,
                progress=1.0,
            )
        return True

    async def _still_running(self, task_id: uuid.UUID) -> bool:
        async with self.engine.sessions() as session:
            task = await get_task(session, task_id)
            return task is not None and task.status == "running"

    async def await_approval(
        self, task_id: uuid.UUID, step_id: uuid.UUID, *, prompt: str, parameters: dict[str, Any]
    ) -> ApprovalDecision:
        """Open (or, after a restart, find) the step's approval request and wait for its outcome."""
        approval_id = await self._open_approval(
            task_id, step_id, prompt=prompt, parameters=parameters
        )
        while True:
            approval = await self._load_approval(approval_id)
            if approval.status != "pending":
                return ApprovalDecision(
                    status=approval.status,  # type: ignore[arg-type]
                    parameters=dict(approval.modified_parameters or approval.parameters),
                    message=approval.decision_message,
                )
            remaining = (approval.expires_at - utcnow()).total_seconds()
            if remaining <= 0:
                await self._expire(task_id, approval_id)
                continue
            await self.engine.wait_for_approval(
                approval_id, timeout=min(remaining, APPROVAL_POLL_SECONDS)
            )

    async def _open_approval(
        self, task_id: uuid.UUID, step_id: uuid.UUID, *, prompt: str, parameters: dict[str, Any]
    ) -> uuid.UUID:
        async with self.engine.transaction(task_id) as tx:
            if tx.task.status not in ("running", "awaiting_approval") or tx.task.cancel_requested:
                raise StepCancelledError
            existing = await pending_approval_for_step(tx.session, step_id)
            if existing is not None:
                return existing.id
            step = await get_step(tx.session, step_id)
            assert step is not None
            approval = ApprovalRequest(
                id=uuid.uuid4(),
                task_id=task_id,
                step_id=step_id,
                status="pending",
                prompt=prompt,
                parameters=parameters,
                created_at=utcnow(),
                on_timeout=str(tx.task.context.get("onApprovalTimeout", "reject")),
                expires_at=utcnow() + timedelta(seconds=self._approval_timeout(tx)),
            )
            tx.session.add(approval)
            step.status = "awaiting_approval"
            tx.set_status("awaiting_approval", message=prompt)
            tx.emit(
                EventType.APPROVAL_REQUEST,
                step=step_snapshot(step),
                approvalRequest=approval_snapshot(approval),
                message=prompt,
            )
            return approval.id

    def _approval_timeout(self, tx: TaskTransaction) -> float:
        requested = tx.task.context.get("approvalTimeoutSeconds")
        if isinstance(requested, int | float) and not isinstance(requested, bool) and requested > 0:
            return float(requested)
        return self.engine.approval_timeout

    async def _load_approval(self, approval_id: uuid.UUID) -> ApprovalRequest:
        async with self.engine.sessions() as session:
            approval = await get_approval(session, approval_id)
        assert approval is not None
        return approval

    async def _expire(self, task_id: uuid.UUID, approval_id: uuid.UUID) -> None:
        async with self.engine.transaction(task_id) as tx:
            approval = await get_approval(tx.session, approval_id)
            if approval is None or approval.status != "pending":
                return
            if approval.on_timeout == "approve":
                await record_decision(
                    tx,
                    approval,
                    status="approved",
                    decided_by="system:timeout",
                    message="approved automatically when the request expired",
                )
                return
            await record_decision(
                tx,
                approval,
                status="expired",
                decided_by="system:timeout",
                message="the approval request expired",
            )

    async def cancel_run(self, task_id: uuid.UUID, message: str) -> None:
        async with self.engine.transaction(task_id) as tx:
            if tx.task.status in ("running", "awaiting_approval", "pending"):
                await cancel_everything(tx, message=message)

    async def _fail(self, task_id: uuid.UUID, step_id: uuid.UUID, message: str) -> None:
        async with self.engine.transaction(task_id) as tx:
            if tx.task.status not in ("running", "awaiting_approval"):
                return
            step = await get_step(tx.session, step_id)
            assert step is not None
            step.status = "failed"
            step.error = {"message": message}
            step.finished_at = utcnow()
            for other in await steps_of_task(tx.session, task_id):
                if other.status == "pending":
                    other.status = "skipped"
            tx.task.error = {"code": "STEP_FAILED", "message": message, "stepId": str(step_id)}
            tx.task.lease_owner = None
            tx.log(message, level="error", step_id=step_id)
            tx.emit(EventType.ERROR, step=step_snapshot(step), message=message, error=tx.task.error)
            tx.set_status("failed", message=message)

    async def _complete(self, task_id: uuid.UUID) -> None:
        async with self.engine.transaction(task_id) as tx:
            if tx.task.status != "running":
                return
            steps = await steps_of_task(tx.session, task_id)
            tx.task.result = {
                "stepsCompleted": sum(1 for s in steps if s.status == "completed"),
                "stepsSkipped": sum(1 for s in steps if s.status == "skipped"),
                "artifacts": tx.task.artifacts,
            }
            tx.task.lease_owner = None
            tx.set_status("completed")
            tx.emit(EventType.COMPLETED, status="completed", result=tx.task.result)
