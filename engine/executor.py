"""The contract between the engine and whatever does the work of a step."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from domain.vocabulary import ApprovalStatus, Reversibility

if TYPE_CHECKING:  # engine.actions and engine.approval_policy import this module
    from engine.actions import ActionSpec
    from engine.approval_policy import ApprovalPolicy


class PlanError(ValueError):
    """The task cannot be planned: the message says which field is wrong and why."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class StepFailedError(Exception):
    """The step failed; the message is shown to the user."""


class StepCancelledError(Exception):
    """Raised at a checkpoint once the task has been cancelled."""


@dataclass(frozen=True, slots=True)
class StepSpec:
    """A planned step: what to do and whether a person must approve it first."""

    name: str
    action: str
    params: dict[str, Any] = field(default_factory=dict)
    requires_approval: bool = False
    description: str | None = None
    reversibility: Reversibility = Reversibility.REVERSIBLE
    # Who decides its approval and how many must agree; None: the owner or an admin, once.
    approval: ApprovalPolicy | None = None


@dataclass(frozen=True, slots=True)
class StepOutcome:
    result: Any = None
    rollback: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class ApprovalDecision:
    # What became of the request: its decision, or CANCELLED with the task.
    status: Literal[
        ApprovalStatus.APPROVED,
        ApprovalStatus.MODIFIED,
        ApprovalStatus.REJECTED,
        ApprovalStatus.EXPIRED,
        ApprovalStatus.CANCELLED,
    ]
    parameters: dict[str, Any]
    message: str | None = None

    @property
    def granted(self) -> bool:
        return self.status in ApprovalStatus.GRANTED


class StepContext(Protocol):
    """What a running step may do: report, store artifacts, ask, and notice cancellation."""

    @property
    def task_id(self) -> str: ...

    @property
    def cancelled(self) -> bool: ...

    async def checkpoint(self) -> None:
        """Raise `StepCancelledError` if the task was cancelled."""

    async def progress(self, fraction: float, message: str | None = None) -> None: ...

    async def log(
        self, message: str, *, level: str = "info", data: dict[str, Any] | None = None
    ) -> None: ...

    async def request_approval(
        self, prompt: str, parameters: dict[str, Any]
    ) -> ApprovalDecision: ...

    async def set_artifact(self, key: str, value: Any) -> tuple[bool, Any]:
        """Store an artifact on the task; returns whether it existed and its old value."""

    async def restore_artifact(self, key: str, *, existed: bool, value: Any) -> None: ...


class Executor(Protocol):
    """Plans a task into steps, runs each step, and rolls a step back."""

    name: str

    @property
    def actions(self) -> Mapping[str, ActionSpec]:
        """The declared actions by name: plans and changed parameters are checked against them."""

    def plan(self, task: str, context: dict[str, Any]) -> list[StepSpec]:
        """The steps of a task; raises `PlanError` for a task that cannot run."""

    async def run_step(
        self, step: StepSpec, params: dict[str, Any], ctx: StepContext
    ) -> StepOutcome: ...

    async def rollback_step(
        self, step: StepSpec, rollback: dict[str, Any] | None, ctx: StepContext
    ) -> None: ...
