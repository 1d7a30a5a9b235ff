"""Mutation: submit, approve, undo, cancel. Each returns the task as it now stands."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.scalars import JSON

from domain.vocabulary import CancelMode, InputPolicy
from resolvers import approvals as approval_resolvers
from resolvers import batch_approvals as batch_resolvers
from resolvers import executors as executor_resolvers
from resolvers import inputs as input_resolvers
from resolvers import tasks as task_resolvers
from resolvers import undo as undo_resolvers
from resolvers import worker as worker_resolvers
from resolvers import worker_artifacts, worker_undo
from resolvers.errors import ValidationFailedError
from resolvers.validation import parse_id
from schema.batch import ApproveBatchResult
from schema.context import Info
from schema.scoped_access import CREATE_APPROVAL_LINK, CREATE_TASK_TOKEN, REVOKE_APPROVAL_LINK
from schema.types import Task
from schema.worker import (
    ArtifactWriteInput,
    ClaimInput,
    Executor,
    HeartbeatInput,
    LeasedInput,
    RegisterExecutorInput,
    StepWriteInput,
    TaskWriteInput,
    WorkerAck,
    WorkerClaim,
    WorkerSignals,
    ack_of,
    claim_of,
    signals_of,
)

strawberry.enum(CancelMode, description="How a running task is cancelled.")
strawberry.enum(InputPolicy, description="What input does to a task that awaits approval.")


@strawberry.input(description="A new task.")
class SubmitTaskInput:
    task: str = strawberry.field(description="What to do; 1 to 10,000 characters.")
    priority: int | None = strawberry.field(default=None, description="-100 to 100; higher first.")
    conversation_id: str | None = strawberry.field(default=None, description="Groups tasks.")
    context: JSON | None = strawberry.field(
        default=None,
        description="Up to 64 KiB of JSON. `steps` gives an explicit plan: "
        '[{"name", "action": "wait"|"note"|"fail", "params", "requiresApproval"}].',
    )
    idempotency_key: str | None = strawberry.field(
        default=None, description="A repeat with the same key returns the first task."
    )


@strawberry.input(description="An answer to an approval request.")
class ApproveInput:
    task_id: strawberry.ID = strawberry.field(description="The task.")
    approval_id: strawberry.ID = strawberry.field(description="The approval request.")
    approved: bool = strawberry.field(description="true to run the step, false to reject it.")
    message: str | None = strawberry.field(
        default=None, description="A note kept with the decision."
    )
    modified_parameters: JSON | None = strawberry.field(
        default=None, description="Approve, but run the step with these parameters instead."
    )


@strawberry.input(description="Answers to several approval requests, recorded together.")
class ApproveBatchInput:
    decisions: list[ApproveInput] | None = strawberry.field(
        default=None, description="1 to 50 answers; each approval at most once."
    )
    items: list[ApproveInput] | None = strawberry.field(
        default=None,
        description="The former name of `decisions`.",
        deprecation_reason="Use `decisions`.",
    )
    atomic: bool = strawberry.field(
        default=True,
        description="true: all or nothing, the first refusal named as the error. false: each "
        "answer on its own, with its own result (the task, or the error and its code).",
    )
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="A repeat with the same key returns the first result and changes nothing.",
    )

    def answers(self) -> list[ApproveInput]:
        if self.decisions is not None and self.items is not None:
            raise ValidationFailedError(
                "send the answers as decisions (items is its former name), not both",
                field="decisions",
            )
        return list(self.decisions if self.decisions is not None else self.items or [])


def answer_of(item: ApproveInput) -> approval_resolvers.ApprovalAnswer:
    return approval_resolvers.ApprovalAnswer(
        approval_id=parse_id(item.approval_id, field="approvalId"),
        approved=item.approved,
        message=item.message,
        modified_parameters=item.modified_parameters,
    )


def _lease(input: LeasedInput) -> dict[str, Any]:
    return {
        "task_id": parse_id(input.task_id, field="taskId"),
        "token": input.lease_token,
        "sequence": input.sequence,
    }


def _step(input: StepWriteInput) -> dict[str, Any]:
    return {**_lease(input), "step_id": parse_id(input.step_id, field="stepId")}


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Submit a task; it is queued by priority, then age.")
    async def submit_task(self, info: Info, input: SubmitTaskInput) -> Task:
        submitted = await task_resolvers.submit_task(
            info.context.resolver_context(),
            data=task_resolvers.SubmitTaskInput(
                task=input.task,
                priority=input.priority,
                conversation_id=input.conversation_id,
                context=input.context,
                idempotency_key=input.idempotency_key,
            ),
        )
        return Task.from_model(submitted.task)

    @strawberry.mutation(description="Approve, reject, or approve with changed parameters.")
    async def approve(self, info: Info, input: ApproveInput) -> Task:
        task = await approval_resolvers.approve_step(
            info.context.resolver_context(),
            task_id=parse_id(input.task_id, field="taskId"),
            answer=answer_of(input),
        )
        return Task.from_model(task)

    @strawberry.mutation(
        description="Answer several approval requests at once. Atomic (the default): every "
        "answer is checked first, and a batch naming an unknown, foreign, ineligible or "
        "answered approval changes nothing. Partial (atomic: false): one result per answer. "
        "A repeat with the same idempotencyKey returns the first result."
    )
    async def approve_batch(self, info: Info, input: ApproveBatchInput) -> ApproveBatchResult:
        result = await batch_resolvers.approve_batch(
            info.context.resolver_context(),
            items=[
                batch_resolvers.BatchItem(
                    task_id=parse_id(item.task_id, field="taskId"), answer=answer_of(item)
                )
                for item in input.answers()
            ],
            atomic=input.atomic,
            idempotency_key=input.idempotency_key,
        )
        return ApproveBatchResult.of(result)

    @strawberry.mutation(
        description="Roll back completed steps, newest first, down to `stepId` (default: the last)."
    )
    async def undo(
        self, info: Info, task_id: strawberry.ID, step_id: strawberry.ID | None = None
    ) -> Task:
        task = await undo_resolvers.undo_task(
            info.context.resolver_context(),
            task_id=parse_id(task_id, field="taskId"),
            step_id=parse_id(step_id, field="stepId") if step_id is not None else None,
        )
        return Task.from_model(task)

    @strawberry.mutation(
        description="Cancel a pending, running or awaiting-approval task. A running one stops "
        "at its next checkpoint (IMMEDIATE) or once its running step finishes (AFTER_STEP)."
    )
    async def cancel_task(
        self, info: Info, task_id: strawberry.ID, mode: CancelMode = CancelMode.IMMEDIATE
    ) -> Task:
        task = await task_resolvers.cancel_task(
            info.context.resolver_context(),
            task_id=parse_id(task_id, field="taskId"),
            mode=mode,
        )
        return Task.from_model(task)

    @strawberry.mutation(
        description="Declare (or replace) an executor's actions; needs a `worker` API key. "
        "Plans naming it with context.executor are checked against the declared schemas."
    )
    async def register_executor(self, info: Info, input: RegisterExecutorInput) -> Executor:
        row = await executor_resolvers.register_executor(
            info.context.resolver_context(),
            data=executor_resolvers.ExecutorInput(
                name=input.name, actions=[a.declaration() for a in input.actions]
            ),
        )
        return Executor.from_model(row)

    @strawberry.mutation(
        description="Send input to an unfinished task: recorded as an INPUT event and handed "
        "to its worker. While it awaits approval, QUEUE (default) keeps the input for after "
        "the decision; REJECT_PENDING rejects the pending approval and hands it over now."
    )
    async def send_input(
        self,
        info: Info,
        task_id: strawberry.ID,
        input: JSON,
        policy: InputPolicy = InputPolicy.QUEUE,
    ) -> Task:
        task = await input_resolvers.send_input(
            info.context.resolver_context(),
            task_id=parse_id(task_id, field="taskId"),
            input=input,
            policy=policy,
        )
        return Task.from_model(task)

    @strawberry.mutation(
        description="Worker: claim the next task of these executors under a lease; null when "
        "none comes within `wait` seconds (docs/workers.md)."
    )
    async def claim_task(self, info: Info, input: ClaimInput) -> WorkerClaim | None:
        claimed = await worker_resolvers.claim(
            info.context.resolver_context(),
            executors=input.executors,
            lease_seconds=input.lease_seconds,
            wait=input.wait,
        )
        return claim_of(claimed) if claimed is not None else None

    @strawberry.mutation(description="Worker: renew the lease and read the task's signals.")
    async def heartbeat(self, info: Info, input: HeartbeatInput) -> WorkerSignals:
        signals = await worker_resolvers.heartbeat(
            info.context.resolver_context(),
            task_id=parse_id(input.task_id, field="taskId"),
            token=input.lease_token,
            lease_seconds=input.lease_seconds,
        )
        return signals_of(signals)

    @strawberry.mutation(description="Worker: a pending step starts running.")
    async def start_step(self, info: Info, input: StepWriteInput) -> WorkerAck:
        ctx = info.context.resolver_context()
        return ack_of(await worker_resolvers.start_step(ctx, **_step(input)))

    @strawberry.mutation(description="Worker: a running step's progress, 0 to 1.")
    async def report_step_progress(self, info: Info, input: StepWriteInput) -> WorkerAck:
        ctx = info.context.resolver_context()
        return ack_of(
            await worker_resolvers.step_progress(
                ctx, progress=input.progress, message=input.message, **_step(input)
            )
        )

    @strawberry.mutation(description="Worker: a log line on a step.")
    async def log_step(self, info: Info, input: StepWriteInput) -> WorkerAck:
        ctx = info.context.resolver_context()
        return ack_of(
            await worker_resolvers.step_log(
                ctx, level=input.level or "info", message=input.message, **_step(input)
            )
        )

    @strawberry.mutation(description="Worker: a running step completed with its result.")
    async def complete_step(self, info: Info, input: StepWriteInput) -> WorkerAck:
        ctx = info.context.resolver_context()
        return ack_of(
            await worker_resolvers.complete_step(
                ctx, result=input.result, rollback=input.rollback, **_step(input)
            )
        )

    @strawberry.mutation(description="Worker: the step failed, and with it the task.")
    async def fail_step(self, info: Info, input: StepWriteInput) -> WorkerAck:
        ctx = info.context.resolver_context()
        return ack_of(await worker_resolvers.fail_step(ctx, error=input.error, **_step(input)))

    @strawberry.mutation(description="Worker: append steps, checked against the schemas.")
    async def plan_task(self, info: Info, input: TaskWriteInput) -> WorkerAck:
        ctx = info.context.resolver_context()
        return ack_of(await worker_resolvers.extend_plan(ctx, steps=input.steps, **_lease(input)))

    @strawberry.mutation(
        description="Worker: open an approval request on a step; a repeat with the same "
        "dedupeKey returns the existing request."
    )
    async def request_approval(self, info: Info, input: TaskWriteInput) -> WorkerAck:
        ctx = info.context.resolver_context()
        if input.step_id is None:
            raise ValidationFailedError("stepId is required", field="stepId")
        return ack_of(
            await worker_resolvers.request_approval(
                ctx,
                step_id=parse_id(input.step_id, field="stepId"),
                prompt=input.prompt,
                parameters=input.parameters,
                timeout_seconds=input.timeout_seconds,
                on_timeout=input.on_timeout,
                dedupe_key=input.dedupe_key,
                **_lease(input),
            )
        )

    @strawberry.mutation(
        description="Worker: give the task back without failing it; awaiting approval it is "
        "parked until the decision, running it goes back to the queue."
    )
    async def release_leased_task(self, info: Info, input: LeasedInput) -> WorkerAck:
        ctx = info.context.resolver_context()
        return ack_of(await worker_resolvers.release_task(ctx, **_lease(input)))

    @strawberry.mutation(description="Worker, under an undo lease: a step's rollback succeeded.")
    async def report_step_rolled_back(self, info: Info, input: StepWriteInput) -> WorkerAck:
        ctx = info.context.resolver_context()
        return ack_of(await worker_undo.report_rolled_back(ctx, **_step(input)))

    @strawberry.mutation(
        description="Worker, under an undo lease: a step's rollback failed; the undo ends."
    )
    async def report_rollback_failed(self, info: Info, input: StepWriteInput) -> WorkerAck:
        ctx = info.context.resolver_context()
        return ack_of(await worker_undo.fail_undo_step(ctx, error=input.error, **_step(input)))

    @strawberry.mutation(description="Worker, under an undo lease: every listed step is undone.")
    async def complete_undo(self, info: Info, input: LeasedInput) -> WorkerAck:
        ctx = info.context.resolver_context()
        return ack_of(await worker_undo.complete_undo(ctx, **_lease(input)))

    @strawberry.mutation(description="Worker: store (or remove) an artifact on the task.")
    async def write_artifact(self, info: Info, input: ArtifactWriteInput) -> WorkerAck:
        ctx = info.context.resolver_context()
        return ack_of(
            await worker_artifacts.write_artifact(
                ctx, key=input.key, value=input.value, remove=input.remove, **_lease(input)
            )
        )

    @strawberry.mutation(description="Worker: every step is finished; the task completes.")
    async def complete_leased_task(self, info: Info, input: TaskWriteInput) -> WorkerAck:
        ctx = info.context.resolver_context()
        return ack_of(
            await worker_resolvers.complete_task(ctx, result=input.result, **_lease(input))
        )

    @strawberry.mutation(
        description="Worker: the task fails; error.code CANCELLED acknowledges a cancel."
    )
    async def fail_leased_task(self, info: Info, input: TaskWriteInput) -> WorkerAck:
        ctx = info.context.resolver_context()
        return ack_of(await worker_resolvers.fail_task(ctx, error=input.error, **_lease(input)))

    create_task_token = CREATE_TASK_TOKEN
    create_approval_link = CREATE_APPROVAL_LINK
    revoke_approval_link = REVOKE_APPROVAL_LINK
