"""Mutation: submit, approve, undo, cancel. Each returns the task as it now stands."""

from __future__ import annotations

import strawberry
from strawberry.scalars import JSON

from resolvers import approvals as approval_resolvers
from resolvers import batch_approvals as batch_resolvers
from resolvers import executors as executor_resolvers
from resolvers import tasks as task_resolvers
from resolvers import undo as undo_resolvers
from resolvers.validation import parse_id
from schema.context import Info
from schema.types import Task
from schema.worker import Executor, RegisterExecutorInput


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
    items: list[ApproveInput] = strawberry.field(
        description="1 to 50 answers; each approval at most once."
    )


def answer_of(item: ApproveInput) -> approval_resolvers.ApprovalAnswer:
    return approval_resolvers.ApprovalAnswer(
        approval_id=parse_id(item.approval_id, field="approvalId"),
        approved=item.approved,
        message=item.message,
        modified_parameters=item.modified_parameters,
    )


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
        description="Answer several approval requests at once. Every answer is checked first: "
        "a batch naming an unknown, foreign or answered approval changes nothing. "
        "Returns the tasks in the order of the answers."
    )
    async def approve_batch(self, info: Info, input: ApproveBatchInput) -> list[Task]:
        tasks = await batch_resolvers.approve_batch(
            info.context.resolver_context(),
            items=[
                batch_resolvers.BatchItem(
                    task_id=parse_id(item.task_id, field="taskId"), answer=answer_of(item)
                )
                for item in input.items
            ],
        )
        return [Task.from_model(task) for task in tasks]

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

    @strawberry.mutation(description="Cancel a pending, running or awaiting-approval task.")
    async def cancel_task(self, info: Info, task_id: strawberry.ID) -> Task:
        task = await task_resolvers.cancel_task(
            info.context.resolver_context(), task_id=parse_id(task_id, field="taskId")
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
