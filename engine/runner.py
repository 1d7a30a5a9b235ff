"""Runs one claimed task step by step, through approval gates, to its end."""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING

from db.models import utcnow
from db.repositories.steps import get_step, granted_approval_exists, steps_of_task
from db.repositories.tasks import get_task
from domain.vocabulary import ApprovalStatus, EventType, LogLevel, StepStatus, TaskStatus
from engine.approvals import cancel_everything, fail_pending_approvals
from engine.executor import Executor, StepCancelledError, StepFailedError, StepOutcome
from engine.step_context import RunContext, spec_of
from subscriptions.wire import STEP_IN_EVENT

if TYPE_CHECKING:
    from engine.core import Engine

logger = logging.getLogger(__name__)


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
        return [step.id for step in steps if step.status in StepStatus.OPEN]

    async def _run_step(self, task_id: uuid.UUID, step_id: uuid.UUID, executor: Executor) -> bool:
        """Run one step; False when the task ended (cancelled) and the loop must stop."""
        async with self.engine.sessions() as session:
            step = await get_step(session, step_id)
            assert step is not None
            needs_gate = (
                step.requires_approval
                and step.status != StepStatus.RUNNING
                and not await granted_approval_exists(session, step_id)
            )
            prompt = f"Approve step {step.position + 1}: {step.name}"
            parameters = dict(step.params)
        if needs_gate:
            decision = await self.engine.gate.await_approval(
                task_id, step_id, prompt=prompt, parameters=parameters
            )
            if decision is None:  # parked until the decision requeues it
                return False
            if decision.status == ApprovalStatus.CANCELLED:
                return False
            if not decision.granted:
                return await self._still_running(task_id)

        async with self.engine.transaction(task_id) as tx:
            if tx.task.cancel_requested or tx.task.status != TaskStatus.RUNNING:
                raise StepCancelledError
            step = await get_step(tx.session, step_id)
            assert step is not None
            if step.status == StepStatus.SKIPPED:
                return True
            step.status = StepStatus.RUNNING
            step.progress = 0.0
            step.started_at = utcnow()
            spec = spec_of(step)
            tx.emit(EventType.STEP_START, step=STEP_IN_EVENT(step))

        outcome: StepOutcome = await executor.run_step(
            spec, spec.params, RunContext(self.engine, task_id, step_id)
        )

        async with self.engine.transaction(task_id) as tx:
            step = await get_step(tx.session, step_id)
            assert step is not None
            step.status = StepStatus.COMPLETED
            step.progress = 1.0
            step.result = outcome.result
            step.rollback = outcome.rollback
            step.finished_at = utcnow()
            tx.emit(
                EventType.STEP_COMPLETE,
                step=STEP_IN_EVENT(step),
                result=outcome.result,
                progress=1.0,
            )
        return True

    async def _still_running(self, task_id: uuid.UUID) -> bool:
        async with self.engine.sessions() as session:
            task = await get_task(session, task_id)
            return task is not None and task.status == TaskStatus.RUNNING

    async def cancel_run(self, task_id: uuid.UUID, message: str) -> None:
        async with self.engine.transaction(task_id) as tx:
            if tx.task.status in TaskStatus.OPEN:
                await cancel_everything(tx, message=message)

    async def _fail(self, task_id: uuid.UUID, step_id: uuid.UUID, message: str) -> None:
        async with self.engine.transaction(task_id) as tx:
            if tx.task.status not in TaskStatus.ACTIVE:
                return
            step = await get_step(tx.session, step_id)
            assert step is not None
            step.status = StepStatus.FAILED
            step.error = {"message": message}
            step.finished_at = utcnow()
            for other in await steps_of_task(tx.session, task_id):
                if other.status == StepStatus.PENDING:
                    other.status = StepStatus.SKIPPED
            tx.task.error = {"code": "STEP_FAILED", "message": message, "stepId": str(step_id)}
            tx.task.lease_owner = None
            await fail_pending_approvals(tx, message=message)
            tx.log(message, level=LogLevel.ERROR, step_id=step_id)
            tx.emit(EventType.ERROR, step=STEP_IN_EVENT(step), message=message, error=tx.task.error)
            tx.set_status(TaskStatus.FAILED, message=message)

    async def _complete(self, task_id: uuid.UUID) -> None:
        async with self.engine.transaction(task_id) as tx:
            if tx.task.status != TaskStatus.RUNNING:
                return
            steps = await steps_of_task(tx.session, task_id)
            tx.task.result = {
                "stepsCompleted": sum(1 for s in steps if s.status == StepStatus.COMPLETED),
                "stepsSkipped": sum(1 for s in steps if s.status == StepStatus.SKIPPED),
                "artifacts": tx.task.artifacts,
            }
            tx.task.lease_owner = None
            tx.set_status(TaskStatus.COMPLETED)
            tx.emit(EventType.COMPLETED, status=TaskStatus.COMPLETED, result=tx.task.result)
