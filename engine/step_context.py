"""What a step sees while it runs or is rolled back: progress, logs, artifacts, cancellation."""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any

from db.models import TaskStep
from db.repositories.steps import get_step
from domain.vocabulary import CancelMode, EventType, LogLevel
from engine.executor import ApprovalDecision, StepCancelledError, StepFailedError, StepSpec
from subscriptions.wire import STEP_IN_EVENT

if TYPE_CHECKING:
    from engine.core import Engine

# Another instance's cancel is seen through the database; polled at most this often.
CANCEL_POLL_SECONDS = 0.5


def spec_of(step: TaskStep) -> StepSpec:
    return StepSpec(
        name=step.name,
        action=step.action,
        params=dict(step.params),
        requires_approval=step.requires_approval,
        description=step.description,
        reversibility=step.reversibility,
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
            if tx.task.cancel_requested and tx.task.cancel_mode != CancelMode.AFTER_STEP:
                raise StepCancelledError
            step = await get_step(tx.session, self._step_id)
            assert step is not None
            step.progress = fraction
            tx.emit(
                EventType.STEP_PROGRESS,
                step=STEP_IN_EVENT(step),
                progress=fraction,
                message=message,
            )

    async def log(
        self, message: str, *, level: str = "info", data: dict[str, Any] | None = None
    ) -> None:
        async with self._engine.transaction(self._task_id) as tx:
            tx.log(message, level=LogLevel(level), step_id=self._step_id, data=data)

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
        """Only a decided request answers here: a pending one parks the task (it holds no
        runner while a person decides), so a step cannot wait in the middle of its work."""
        decision = await self._engine.gate.await_approval(
            self._task_id, self._step_id, prompt=prompt, parameters=parameters
        )
        if decision is None:
            raise StepFailedError(
                "a step cannot wait for an approval mid-step; declare requiresApproval on the "
                "action so the engine asks before the step starts"
            )
        return decision
