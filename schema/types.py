"""Strawberry types mirroring the models; each is built with `from_model`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON

from db import models
from resolvers import progress
from resolvers.approvals import approval_policy_of, remaining_seconds
from resolvers.progress import QueueInfo
from resolvers.undo import UndoPreview
from resolvers.users import Me
from schema.context import Info
from schema.scalars import ApprovalStatus, Reversibility, StepStatus, TaskStatus


def optional_json(value: Any) -> JSON | None:
    return None if value is None else JSON(value)


@strawberry.type(description="One step of a task's plan.")
class Step:
    id: strawberry.ID = strawberry.field(description="The step id.")
    position: int = strawberry.field(description="0-based order within the task.")
    name: str = strawberry.field(description="A short name.")
    description: str | None = strawberry.field(description="What the step does.")
    action: str = strawberry.field(description="The executor action, e.g. `wait` or `note`.")
    params: JSON = strawberry.field(description="The parameters it runs (or ran) with.")
    requires_approval: bool = strawberry.field(
        description="Whether a person must approve it first."
    )
    reversibility: Reversibility = strawberry.field(description="Whether undo can roll it back.")
    status: StepStatus = strawberry.field(description="Where the step is.")
    progress: float = strawberry.field(description="0 to 1.")
    result: JSON | None = strawberry.field(description="What the step produced.")
    error: JSON | None = strawberry.field(description="Why it failed, when it did.")
    started_at: datetime | None = strawberry.field(description="When it started running.")
    finished_at: datetime | None = strawberry.field(description="When it ended.")

    @classmethod
    def from_model(cls, row: models.TaskStep) -> Step:
        return cls(
            id=strawberry.ID(str(row.id)),
            position=row.position,
            name=row.name,
            description=row.description,
            action=row.action,
            params=JSON(row.params),
            requires_approval=row.requires_approval,
            reversibility=row.reversibility,
            status=row.status,
            progress=row.progress,
            result=row.result,
            error=optional_json(row.error),
            started_at=row.started_at,
            finished_at=row.finished_at,
        )


@strawberry.type(description="A log line written while the task ran.")
class TaskLog:
    id: strawberry.ID = strawberry.field(description="The log line id.")
    step_id: strawberry.ID | None = strawberry.field(description="The step it belongs to, if any.")
    level: str = strawberry.field(description="info, warning or error.")
    message: str = strawberry.field(description="The text.")
    data: JSON | None = strawberry.field(description="Structured detail.")
    created_at: datetime = strawberry.field(description="When it was written.")

    @classmethod
    def from_model(cls, row: models.TaskLog) -> TaskLog:
        return cls(
            id=strawberry.ID(str(row.id)),
            step_id=strawberry.ID(str(row.step_id)) if row.step_id else None,
            level=row.level,
            message=row.message,
            data=optional_json(row.data),
            created_at=row.created_at,
        )


@strawberry.type(description="One person's answer to an approval request (or its expiry).")
class ApprovalDecision:
    by: str = strawberry.field(
        description="Who: `user:<subject>` (as in the audit log), or `system:timeout`."
    )
    decision: ApprovalStatus = strawberry.field(
        description="APPROVED, MODIFIED (approved with changed parameters), REJECTED or EXPIRED."
    )
    message: str | None = strawberry.field(description="Their message.")
    parameters_before: JSON | None = strawberry.field(description="The parameters they saw.")
    parameters_after: JSON | None = strawberry.field(description="The parameters they left.")
    at: datetime = strawberry.field(description="When.")

    @classmethod
    def from_model(cls, row: models.ApprovalDecision) -> ApprovalDecision:
        return cls(
            by=row.decided_by,
            decision=ApprovalStatus(row.decision),
            message=row.message,
            parameters_before=optional_json(row.parameters_before),
            parameters_after=optional_json(row.parameters_after),
            at=row.decided_at,
        )


@strawberry.type(description="A request for a person to approve a step before it runs.")
class ApprovalRequest:
    id: strawberry.ID = strawberry.field(description="The approval id, used to answer it.")
    task_id: strawberry.ID = strawberry.field(description="The task it belongs to.")
    step_id: strawberry.ID = strawberry.field(description="The step it gates.")
    status: ApprovalStatus = strawberry.field(
        description="PENDING until decided; APPROVED, MODIFIED, REJECTED; EXPIRED when nobody "
        "decided in time (whatever its onTimeout applied); CANCELLED when the task ended first."
    )
    prompt: str = strawberry.field(description="What the person is asked.")
    parameters: JSON = strawberry.field(description="The parameters the step would run with.")
    modified_parameters: JSON | None = strawberry.field(
        description="The parameters the approvers changed them to, if any."
    )
    on_timeout: str = strawberry.field(
        description="What happens at expiry: reject, cancel or approve."
    )
    decided_by: str | None = strawberry.field(
        description="Who settled it: `user:<subject>` (as in the audit log), or `system:timeout`."
    )
    decision_message: str | None = strawberry.field(description="The deciding message.")
    created_at: datetime = strawberry.field(description="When it was asked.")
    expires_at: datetime = strawberry.field(description="When it expires unanswered.")
    decided_at: datetime | None = strawberry.field(description="When it was settled.")
    required: int = strawberry.field(
        description="How many distinct people must approve it (1 to 10)."
    )
    roles: list[str] = strawberry.field(
        description="Roles whose holders may decide; empty: the task's owner and admins."
    )
    allow_self: bool = strawberry.field(description="Whether the task's owner may decide it.")
    model: strawberry.Private[models.ApprovalRequest]

    @classmethod
    def from_model(cls, row: models.ApprovalRequest) -> ApprovalRequest:
        policy = approval_policy_of(row)
        return cls(
            id=strawberry.ID(str(row.id)),
            task_id=strawberry.ID(str(row.task_id)),
            step_id=strawberry.ID(str(row.step_id)),
            status=row.status,
            prompt=row.prompt,
            parameters=JSON(row.parameters),
            modified_parameters=optional_json(row.modified_parameters),
            on_timeout=row.on_timeout,
            decided_by=row.decided_by,
            decision_message=row.decision_message,
            created_at=row.created_at,
            expires_at=row.expires_at,
            decided_at=row.decided_at,
            required=policy.required,
            roles=list(policy.roles),
            allow_self=policy.allow_self,
            model=row,
        )

    @strawberry.field(description="Every answer so far, oldest first.")
    async def decisions(self, info: Info) -> list[ApprovalDecision]:
        rows = await info.context.loaders.decisions_by_approval_id.load(self.model.id)
        return [ApprovalDecision.from_model(r) for r in rows]

    @strawberry.field(description="The task it belongs to (read-only for a reviewer).")
    async def task(self, info: Info) -> Task | None:
        row = await info.context.loaders.task_by_id.load(self.model.task_id)
        return Task.from_model(row) if row is not None else None

    @strawberry.field(description="The step it gates.")
    async def step(self, info: Info) -> Step | None:
        row = await info.context.loaders.step_by_id.load(self.model.step_id)
        return Step.from_model(row) if row is not None else None

    @strawberry.field(description="Seconds left before it expires; null once settled.")
    def remaining_seconds(self) -> float | None:
        return remaining_seconds(self.model)


@strawberry.type(description="An approval request and its cursor.")
class ApprovalEdge:
    cursor: str = strawberry.field(description="Opaque position of this request.")
    node: ApprovalRequest = strawberry.field(description="The request.")


@strawberry.type(description="A page of approval requests, newest first.")
class ApprovalConnection:
    edges: list[ApprovalEdge] = strawberry.field(description="The requests of this page.")
    page_info: PageInfo = strawberry.field(description="How to get the next page.")


@strawberry.type(description="An agent task and everything known about its run.")
class Task:
    id: strawberry.ID = strawberry.field(description="The task id.")
    task: str = strawberry.field(description="What was asked.")
    status: TaskStatus = strawberry.field(description="Where the task is.")
    priority: int = strawberry.field(description="Higher runs first; -100 to 100.")
    conversation_id: str | None = strawberry.field(description="The conversation it belongs to.")
    context: JSON = strawberry.field(description="The context it was submitted with.")
    created_at: datetime = strawberry.field(description="When it was submitted.")
    started_at: datetime | None = strawberry.field(description="When it first started running.")
    finished_at: datetime | None = strawberry.field(description="When it ended.")
    artifacts: JSON = strawberry.field(description="What its steps stored (key to value).")
    result: JSON | None = strawberry.field(description="The outcome, once completed.")
    error: JSON | None = strawberry.field(description="Why it failed, when it did.")
    last_seq: int = strawberry.field(description="The seq of its newest stored event.")
    stalled_since: datetime | None = strawberry.field(
        description="Set when an approved (or input-answered) task made no progress within "
        "AGENTWIRE_RESUME_STALL_SECONDS (a STALLED event went out); cleared by progress."
    )
    model: strawberry.Private[models.Task]

    @classmethod
    def from_model(cls, row: models.Task) -> Task:
        return cls(
            id=strawberry.ID(str(row.id)),
            task=row.task,
            status=row.status,
            priority=row.priority,
            conversation_id=row.conversation_id,
            context=JSON(row.context),
            created_at=row.created_at,
            started_at=row.started_at,
            finished_at=row.finished_at,
            artifacts=JSON(row.artifacts),
            result=row.result,
            error=optional_json(row.error),
            last_seq=row.last_seq,
            stalled_since=row.stalled_since,
            model=row,
        )

    async def _steps(self, info: Info) -> list[models.TaskStep]:
        return await info.context.loaders.steps_by_task_id.load(self.model.id)

    @strawberry.field(description="The planned steps, in order.")
    async def steps(self, info: Info) -> list[Step]:
        return [Step.from_model(s) for s in await self._steps(info)]

    @strawberry.field(description="Completed share of the plan, 0 to 1.")
    async def progress(self, info: Info) -> float:
        return progress.task_progress(self.model, await self._steps(info))

    @strawberry.field(description="The step running or awaiting approval now, if any.")
    async def current_step(self, info: Info) -> Step | None:
        step = progress.current_step(await self._steps(info))
        return Step.from_model(step) if step else None

    @strawberry.field(description="Log lines, oldest first (the newest 500).")
    async def logs(self, info: Info) -> list[TaskLog]:
        rows = await info.context.loaders.logs_by_task_id.load(self.model.id)
        return [TaskLog.from_model(r) for r in rows]

    @strawberry.field(description="Every approval request of the task, oldest first.")
    async def approvals(self, info: Info) -> list[ApprovalRequest]:
        rows = await info.context.loaders.approvals_by_task_id.load(self.model.id)
        return [ApprovalRequest.from_model(r) for r in rows]

    @strawberry.field(description="The approval request waiting for an answer, if any.")
    async def pending_approval(self, info: Info) -> ApprovalRequest | None:
        rows = await info.context.loaders.approvals_by_task_id.load(self.model.id)
        pending = [r for r in rows if r.status == ApprovalStatus.PENDING]
        return ApprovalRequest.from_model(pending[-1]) if pending else None

    async def _queue(self, info: Info) -> QueueInfo:
        ctx = info.context.resolver_context()
        if self.model.status != TaskStatus.PENDING:
            return progress.NOT_QUEUED
        # Batched: every pending task of the page in one window query.
        position = await info.context.loaders.queue_position_by_task_id.load(self.model.id)
        return await progress.queue_info_at(ctx, self.model.id, position)

    @strawberry.field(description="1 for the next task to start; null unless pending.")
    async def queue_position(self, info: Info) -> int | None:
        return (await self._queue(info)).position

    @strawberry.field(description="Estimated seconds until it starts; null unless pending.")
    async def estimated_wait_time(self, info: Info) -> float | None:
        return (await self._queue(info)).estimated_wait_seconds


@strawberry.type(description="What an undo would do: the steps, newest first, or why not.")
class UndoPlan:
    possible: bool = strawberry.field(description="Whether `undo` would run now.")
    steps: list[Step] = strawberry.field(description="The steps it would roll back, in order.")
    reason: str | None = strawberry.field(description="Why it would refuse, when it would.")
    hint: str | None = strawberry.field(description="What to do about it.")

    @classmethod
    def from_preview(cls, preview: UndoPreview) -> UndoPlan:
        return cls(
            possible=preview.possible,
            steps=[Step.from_model(step) for step in preview.steps],
            reason=preview.reason,
            hint=preview.hint,
        )


@strawberry.type(description="The authenticated caller.")
class User:
    id: strawberry.ID = strawberry.field(description="The user id.")
    subject: str = strawberry.field(description="The token subject (`sub`).")
    display_name: str = strawberry.field(description="A name to show.")
    roles: list[str] = strawberry.field(
        description="The roles of the credential of this request (a token's `roles` claim, "
        "or the API key's own roles), e.g. `admin`."
    )
    is_admin: bool = strawberry.field(description="Whether the caller sees every task.")

    @classmethod
    def from_me(cls, me: Me) -> User:
        roles = list(me.roles)
        return cls(
            id=strawberry.ID(str(me.user.id)),
            subject=me.user.subject,
            display_name=me.user.display_name,
            roles=roles,
            is_admin=me.is_admin,
        )


@strawberry.type(description="Pagination state of a connection.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="Whether another page follows.")
    end_cursor: str | None = strawberry.field(description="Pass as `after` for the next page.")


@strawberry.type(description="A task and its cursor.")
class TaskEdge:
    cursor: str = strawberry.field(description="Opaque position of this task.")
    node: Task = strawberry.field(description="The task.")


@strawberry.type(description="A page of tasks, newest first.")
class TaskConnection:
    edges: list[TaskEdge] = strawberry.field(description="The tasks of this page.")
    page_info: PageInfo = strawberry.field(description="How to get the next page.")
    total_count: int = strawberry.field(
        description="How many tasks match the filters (counted only when selected)."
    )
