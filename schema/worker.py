"""GraphQL types of the worker API: executor declarations (issue 12)."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from resolvers.executors import RegisteredExecutor
from resolvers.worker import Ack, ClaimResult, Signals
from schema.scalars import Reversibility
from subscriptions.wire import STEP_FOR_WORKER


@strawberry.input(description="One action an executor can run.")
class ActionDeclarationInput:
    name: str = strawberry.field(description="The action name steps use, e.g. `move_file`.")
    parameter_schema: JSON = strawberry.field(
        description="A JSON Schema (draft 2020-12) for the step's `params`."
    )
    reversibility: Reversibility = strawberry.field(description="How far undo can take it back.")
    description: str | None = strawberry.field(default=None, description="What it does.")

    def declaration(self) -> dict[str, object]:
        declared: dict[str, object] = {
            "name": self.name,
            "parameterSchema": self.parameter_schema,
            "reversibility": self.reversibility.value,
        }
        if self.description is not None:
            declared["description"] = self.description
        return declared


@strawberry.input(description="An executor and the actions it can run.")
class RegisterExecutorInput:
    name: str = strawberry.field(description="1 to 64 characters, e.g. `file-organiser`.")
    actions: list[ActionDeclarationInput] = strawberry.field(description="1 to 100 actions.")


@strawberry.type(description="A registered executor.")
class Executor:
    name: str = strawberry.field(description="Its name; tasks choose it with context.executor.")
    version: int = strawberry.field(description="1 at first, one more on each registration.")
    actions: JSON = strawberry.field(
        description="`[{name, parameterSchema, reversibility, description}]`."
    )
    updated_at: datetime = strawberry.field(description="When it was last registered.")

    @classmethod
    def from_model(cls, row: RegisteredExecutor) -> Executor:
        return cls(
            name=row.name,
            version=row.version,
            actions=JSON(list(row.actions)),
            updated_at=row.updated_at,
        )


@strawberry.input(description="Claim the next task of these executors.")
class ClaimInput:
    executors: list[str] = strawberry.field(description="Executor names.")
    lease_seconds: float | None = strawberry.field(default=None, description="5 to 300 (30).")
    wait: float | None = strawberry.field(default=None, description="0 to 30 seconds (0).")


@strawberry.input(description="Renew a lease.")
class HeartbeatInput:
    task_id: strawberry.ID
    lease_token: str
    lease_seconds: float | None = strawberry.field(default=None, description="5 to 300 (30).")


@strawberry.type(description="A claimed task under a new lease.")
class WorkerClaim:
    task_id: strawberry.ID
    task: str
    context: JSON
    executor: str
    attempts: int
    lease_token: str = strawberry.field(description="Send it with every write.")
    lease_expires_at: datetime
    steps: JSON = strawberry.field(description="Every step with its status; skip the done ones.")
    approvals: JSON = strawberry.field(
        description="Every approval request and its decision, as in heartbeat signals."
    )
    inputs: JSON = strawberry.field(description="Input sent to the task, oldest first.")
    undo: list[str] | None = strawberry.field(
        description="Set for undo work: the ids of the steps to roll back, in that order."
    )


@strawberry.type(description="What the worker must act on.")
class WorkerSignals:
    lease_expires_at: datetime
    status: str
    cancel: JSON | None = strawberry.field(description="`{mode}` when the task is cancelled.")
    approvals: JSON = strawberry.field(description="Every approval request and its state.")
    inputs: JSON = strawberry.field(description="Input sent to the task, oldest first.")
    undo: list[str] | None = strawberry.field(
        default=None, description="Under an undo lease: the steps to roll back, in order."
    )


@strawberry.type(description="A write's answer; applied is false for a retried sequence.")
class WorkerAck:
    applied: bool
    sequence: int | None
    step: JSON | None = None
    steps: JSON | None = None
    approval: JSON | None = None
    status: str | None = strawberry.field(
        default=None, description="For release: the task's status now."
    )
    artifact: JSON | None = strawberry.field(
        default=None, description="For writeArtifact: `{key, existed, previous}`."
    )


@strawberry.input(description="A write under a lease.")
class LeasedInput:
    task_id: strawberry.ID
    lease_token: str
    sequence: int = strawberry.field(description="One more than the lease's previous write.")


@strawberry.input(description="A write about one step.")
class StepWriteInput(LeasedInput):
    step_id: strawberry.ID
    progress: float | None = strawberry.field(default=None, description="For progress: 0 to 1.")
    message: str | None = strawberry.field(default=None, description="For progress and log.")
    level: str | None = strawberry.field(default=None, description="For log (info).")
    result: JSON | None = strawberry.field(default=None, description="For complete.")
    rollback: JSON | None = strawberry.field(default=None, description="For complete.")
    error: JSON | None = strawberry.field(default=None, description="For fail: {code, message}.")


@strawberry.input(description="A plan extension, an approval request, or the task's end.")
class TaskWriteInput(LeasedInput):
    steps: JSON | None = strawberry.field(default=None, description="For plan.")
    step_id: strawberry.ID | None = strawberry.field(default=None, description="For approvals.")
    prompt: str | None = strawberry.field(default=None, description="For approvals.")
    parameters: JSON | None = strawberry.field(default=None, description="For approvals.")
    timeout_seconds: float | None = strawberry.field(default=None, description="For approvals.")
    on_timeout: str | None = strawberry.field(default=None, description="For approvals.")
    dedupe_key: str | None = strawberry.field(default=None, description="For approvals.")
    result: JSON | None = strawberry.field(default=None, description="For complete.")
    error: JSON | None = strawberry.field(default=None, description="For fail: {code, message}.")


@strawberry.input(description="Store (or remove) an artifact on the task.")
class ArtifactWriteInput(LeasedInput):
    key: str = strawberry.field(description="1 to 200 characters.")
    value: JSON | None = strawberry.field(default=None, description="Any JSON, at most 64 KiB.")
    remove: bool = strawberry.field(default=False, description="Remove it instead.")


def ack_of(ack: Ack) -> WorkerAck:
    return WorkerAck(applied=ack.applied, sequence=ack.sequence, **ack.data)


def claim_of(claimed: ClaimResult) -> WorkerClaim:
    task = claimed.task
    return WorkerClaim(
        task_id=strawberry.ID(str(task.id)),
        task=task.task,
        context=JSON(task.context),
        executor=task.executor,
        attempts=task.attempts,
        lease_token=claimed.token,
        lease_expires_at=claimed.expires_at,
        # Each step with what its rollback needs (undo work), which no other form shows.
        steps=JSON([{**STEP_FOR_WORKER(s), "rollback": s.rollback} for s in claimed.steps]),
        approvals=JSON(claimed.approvals),
        inputs=JSON(claimed.inputs),
        undo=claimed.undo,
    )


def signals_of(signals: Signals) -> WorkerSignals:
    return WorkerSignals(
        lease_expires_at=signals.lease_expires_at,
        status=signals.status,
        cancel=JSON(signals.cancel) if signals.cancel is not None else None,
        approvals=JSON(signals.approvals),
        inputs=JSON(signals.inputs),
        undo=signals.undo,
    )
