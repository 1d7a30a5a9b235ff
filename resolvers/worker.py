"""The worker protocol (issue 12): claim, heartbeat, step reports, plans, approvals and the
task's end, for engines that run outside the API process. Every write is fenced by the
lease token and ordered by the lease's sequence; each produces the same events, through the
same task transaction, as the built-in executor's runner.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from db.models import ApprovalRequest, Task, TaskStep, utcnow
from db.repositories.executors import get_executor
from db.repositories.steps import approvals_by_task_ids, get_step, steps_of_task
from domain.vocabulary import (
    ApprovalStatus,
    CancelMode,
    EventType,
    LogLevel,
    OnTimeout,
    StepStatus,
    TaskStatus,
    parse_word,
)
from engine.actions import parse_steps
from engine.approval_policy import parse_approval_policy
from engine.approvals import (
    cancel_everything,
    expire_approval,
    fail_pending_approvals,
)
from engine.executor import PlanError
from engine.gate import park
from engine.journal import TaskMissingError
from engine.leases import LeasedWrite, LeaseLostError, claim_for_worker, end_lease, leased_write
from engine.plan_rows import add_reviewer_roles, step_rows
from resolvers.context import RequestContext
from resolvers.errors import ConflictError, NotFoundError, ValidationFailedError
from resolvers.executors import DEFAULT_EXECUTOR, actions_of, require_worker
from resolvers.inputs import deliverable_inputs
from resolvers.validation import MAX_CONTEXT_BYTES, check_json_object, clean_text
from subscriptions.wire import APPROVAL_IN_EVENT, STEP_IN_EVENT

LEASE_RANGE = (5, 300)
WAIT_RANGE = (0, 30)
CLAIM_POLL_SECONDS = 0.5
MAX_LOG_CHARS = 4000
MAX_EXECUTORS = 20
# Past 2^53 a JSON integer is not exact in most clients (JavaScript, jq).
MAX_SEQUENCE = 2**53


class LeaseLostConflictError(ConflictError):
    code = "LEASE_LOST"
    hint = "this worker no longer holds the task: stop working on it and claim again"


@dataclass(frozen=True, slots=True)
class ClaimResult:
    task: Task
    steps: list[TaskStep]
    token: str
    expires_at: datetime
    # The task's approval requests and their decisions, and its deliverable input: a task
    # released while it waited for approval is claimed again with its decision in hand.
    approvals: list[dict[str, Any]] = field(default_factory=list)
    inputs: list[dict[str, Any]] = field(default_factory=list)
    # Set for a claim of undo work: the ids of the steps to roll back, in that order.
    undo: list[str] | None = None


@dataclass(frozen=True, slots=True)
class Ack:
    """The answer to a write: `applied` is False for a retried sequence (nothing changed)."""

    applied: bool
    sequence: int | None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Signals:
    lease_expires_at: datetime
    cancel: dict[str, Any] | None
    approvals: list[dict[str, Any]]
    status: str
    inputs: list[dict[str, Any]] = field(default_factory=list)
    undo: list[str] | None = None


def _number(value: Any, *, field: str, low: float, high: float, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ValidationFailedError(
            f"{field} must be a number from {low:g} to {high:g}", field=field
        )
    return float(value)


def _sequence(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_SEQUENCE:
        raise ValidationFailedError(
            "sequence must be a whole number from 1: one more for each write under the lease",
            field="sequence",
        )
    return value


def _token(value: Any) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= 64:
        raise ValidationFailedError(
            "leaseToken must be the token the claim returned", field="leaseToken"
        )
    return value


async def _check_executors(ctx: RequestContext, names: Any) -> list[str]:
    if not isinstance(names, list) or not names or len(names) > MAX_EXECUTORS:
        raise ValidationFailedError(
            f"executors must list 1 to {MAX_EXECUTORS} executor names", field="executors"
        )
    checked: list[str] = []
    for index, name in enumerate(names):
        if not isinstance(name, str):
            raise ValidationFailedError("executors holds names", field=f"executors[{index}]")
        if name in ctx.engine.declared_executors:
            checked.append(name)
            continue
        async with ctx.sessions() as session:
            row = await get_executor(session, name)
        if row is None:
            raise NotFoundError(
                f"executor {name!r} is not registered",
                hint="register it first with POST /api/worker/executors",
            )
        if row.owner_id != ctx.principal.user_id:
            raise ConflictError(
                f"executor {name!r} is registered by another user",
                hint="claim with a worker key of the user that registered it",
            )
        checked.append(name)
    return checked


async def claim(
    ctx: RequestContext, *, executors: Any, lease_seconds: Any = None, wait: Any = None
) -> ClaimResult | None:
    """The next claimable task, or None when none comes within `wait` seconds."""
    require_worker(ctx)
    names = await _check_executors(ctx, executors)
    lease = _number(
        lease_seconds, field="leaseSeconds", low=LEASE_RANGE[0], high=LEASE_RANGE[1], default=30
    )
    waited = _number(wait, field="wait", low=WAIT_RANGE[0], high=WAIT_RANGE[1], default=0)
    owner = f"worker:{ctx.principal.subject}:{ctx.principal.key_prefix or ctx.principal.via}"
    deadline = asyncio.get_running_loop().time() + waited
    while True:
        # Lapsed leases go back to the queue first, and overdue approvals of released tasks
        # expire, so a waiting worker picks them up even on an API-only instance (where no
        # scheduler loop runs).
        await ctx.engine.recover_expired()
        await ctx.engine.gate.expire_due()
        claimed, events = await claim_for_worker(
            ctx.engine, executors=names, owner=owner, lease_seconds=lease
        )
        if claimed is not None:
            await ctx.services.bus.publish(events)
            await ctx.engine.publish_queue_updates()
            async with ctx.sessions() as session:
                task = await session.get(Task, claimed.task_id)
                steps = await steps_of_task(session, claimed.task_id)
                approvals = (await approvals_by_task_ids(session, [claimed.task_id]))[0]
            assert task is not None
            return ClaimResult(
                task,
                steps,
                claimed.token,
                claimed.expires_at,
                approvals=[_approval_signal(a) for a in approvals],
                inputs=deliverable_inputs(task),
                undo=list(task.undo_step_ids) if claimed.undo and task.undo_step_ids else None,
            )
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            return None
        # Polled, not pushed: a claim is cheap, and a pending task may come from any instance.
        await asyncio.sleep(min(CLAIM_POLL_SECONDS, remaining))


@asynccontextmanager
async def write_under_lease(
    ctx: RequestContext, task_id: uuid.UUID, token: Any, sequence: Any
) -> AsyncIterator[LeasedWrite]:
    require_worker(ctx)
    checked_token = _token(token)
    checked_sequence = _sequence(sequence) if sequence is not None else None
    try:
        async with leased_write(
            ctx.engine, task_id, token=checked_token, sequence=checked_sequence
        ) as write:
            yield write
    except TaskMissingError as error:
        raise NotFoundError(
            f"task {task_id} was not found", hint="use the id the claim returned"
        ) from error
    except LeaseLostError as error:
        raise LeaseLostConflictError(
            f"the lease on task {task_id} is no longer held by this token (it expired, the "
            "task was cancelled or ended, or another worker claimed it); nothing was changed"
        ) from error


async def step_of_lease(write: LeasedWrite, step_id: uuid.UUID) -> TaskStep:
    step = await get_step(write.tx.session, step_id)
    if step is None or step.task_id != write.tx.task.id:
        raise NotFoundError(
            f"step {step_id} is not in the plan of task {write.tx.task.id}",
            hint="use a step id from the claim's steps or from your plan",
        )
    return step


async def heartbeat(
    ctx: RequestContext, *, task_id: uuid.UUID, token: Any, lease_seconds: Any = None
) -> Signals:
    """Renew the lease; answer what the worker must act on (cancel, approval outcomes)."""
    lease = _number(
        lease_seconds, field="leaseSeconds", low=LEASE_RANGE[0], high=LEASE_RANGE[1], default=30
    )
    async with write_under_lease(ctx, task_id, token, None) as write:
        tx = write.tx
        if not tx.task.cancel_requested:
            # After a cancel the lease is not renewed: a worker that does not stop within
            # it is fenced, and the task ends cancelled (engine recovery).
            tx.task.lease_expires_at = utcnow() + timedelta(seconds=lease)
        approvals = (await approvals_by_task_ids(tx.session, [task_id]))[0]
        for approval in approvals:
            if approval.status == ApprovalStatus.PENDING and approval.expires_at <= utcnow():
                await expire_approval(tx, approval)
        answered = [_approval_signal(a) for a in approvals]
        mode = tx.task.cancel_mode or CancelMode.IMMEDIATE
        cancel = {"mode": mode} if tx.task.cancel_requested else None
        status = tx.task.status
        inputs = deliverable_inputs(tx.task)
        undo = list(tx.task.undo_step_ids) if tx.task.undo_step_ids is not None else None
        expires = tx.task.lease_expires_at
    assert expires is not None
    return Signals(
        lease_expires_at=expires,
        cancel=cancel,
        approvals=answered,
        status=status,
        inputs=inputs,
        undo=undo,
    )


def _approval_signal(approval: ApprovalRequest) -> dict[str, Any]:
    return {
        "approvalId": str(approval.id),
        "stepId": str(approval.step_id),
        "status": approval.status,
        "dedupeKey": approval.dedupe_key,
        "parameters": approval.modified_parameters or approval.parameters,
        "message": approval.decision_message,
        # Whether the step may run: an expiry whose onTimeout is `approve` grants it too.
        "granted": approval.status in ApprovalStatus.GRANTED
        or (approval.status == ApprovalStatus.EXPIRED and approval.on_timeout == "approve"),
    }


async def release_task(
    ctx: RequestContext, *, task_id: uuid.UUID, token: Any, sequence: Any
) -> Ack:
    """Give the task back without failing it. Awaiting approval, it is parked (no lease, no
    slot) until the decision puts it back in the queue; running, it goes back to the queue
    at once, its running step to be started again. Neither counts as a failed attempt."""
    async with write_under_lease(ctx, task_id, token, sequence) as write:
        tx = write.tx
        if not write.applied:
            return Ack(False, sequence, {"status": tx.task.status})
        tx.task.attempts = max(tx.task.attempts - 1, 0)
        if tx.task.status == TaskStatus.AWAITING_APPROVAL:
            park(tx)
            tx.log("the worker released the task while it waits for approval")
        else:
            await ctx.engine.requeue(tx, reason="released by the worker")
        status = tx.task.status
    ctx.engine.wake()
    return Ack(True, sequence, {"status": status})


async def start_step(
    ctx: RequestContext, *, task_id: uuid.UUID, step_id: uuid.UUID, token: Any, sequence: Any
) -> Ack:
    async with write_under_lease(ctx, task_id, token, sequence) as write:
        step = await step_of_lease(write, step_id)
        if not write.applied:
            return Ack(False, sequence, {"step": STEP_IN_EVENT(step)})
        tx = write.tx
        if tx.task.cancel_requested:
            raise ConflictError(
                "the task is being cancelled: no new step may start",
                hint="acknowledge the cancel with POST .../fail {error: {code: 'CANCELLED'}}",
            )
        if step.status != StepStatus.PENDING:
            raise ConflictError(
                f"step {step_id} is {step.status} and cannot start",
                hint="only a pending step starts; completed steps are never run again",
            )
        if tx.task.status != TaskStatus.RUNNING:
            raise ConflictError(
                f"the task is {tx.task.status}; a step starts only while it is running",
                hint="wait for the approval decision (heartbeat signals)",
            )
        if step.requires_approval and not await _granted(tx, step.id):
            raise ConflictError(
                f"step {step_id} requires approval first",
                hint="POST /api/worker/tasks/{taskId}/approvals and wait for the decision",
            )
        step.status = StepStatus.RUNNING
        step.progress = 0.0
        step.started_at = utcnow()
        tx.emit(EventType.STEP_START, step=STEP_IN_EVENT(step))
        return Ack(True, sequence, {"step": STEP_IN_EVENT(step)})


async def _granted(tx: Any, step_id: uuid.UUID) -> bool:
    approvals = (await approvals_by_task_ids(tx.session, [tx.task.id]))[0]
    return any(a.step_id == step_id and a.status in ApprovalStatus.GRANTED for a in approvals)


async def _running_step(write: LeasedWrite, step_id: uuid.UUID) -> TaskStep:
    step = await step_of_lease(write, step_id)
    if write.applied and step.status != StepStatus.RUNNING:
        raise ConflictError(
            f"step {step_id} is {step.status}, not running",
            hint="start the step first (POST .../steps/{stepId}/start)",
        )
    return step


async def step_progress(
    ctx: RequestContext,
    *,
    task_id: uuid.UUID,
    step_id: uuid.UUID,
    token: Any,
    sequence: Any,
    progress: Any,
    message: Any = None,
) -> Ack:
    fraction = _number(progress, field="progress", low=0, high=1, default=-1)
    if fraction < 0:
        raise ValidationFailedError("progress is required: a number from 0 to 1", field="progress")
    text = clean_text(message, field="message", max_chars=MAX_LOG_CHARS)
    async with write_under_lease(ctx, task_id, token, sequence) as write:
        step = await _running_step(write, step_id)
        if write.applied:
            step.progress = fraction
            write.tx.emit(
                EventType.STEP_PROGRESS, step=STEP_IN_EVENT(step), progress=fraction, message=text
            )
        return Ack(write.applied, sequence)


async def step_log(
    ctx: RequestContext,
    *,
    task_id: uuid.UUID,
    step_id: uuid.UUID,
    token: Any,
    sequence: Any,
    level: Any,
    message: Any,
) -> Ack:
    log_level = parse_word(LogLevel, level)
    if log_level is None:
        raise ValidationFailedError(f"level must be one of {', '.join(LogLevel)}", field="level")
    text = clean_text(message, field="message", max_chars=MAX_LOG_CHARS, required=True)
    assert text is not None
    async with write_under_lease(ctx, task_id, token, sequence) as write:
        await step_of_lease(write, step_id)
        if write.applied:
            write.tx.log(text, level=log_level, step_id=step_id)
        return Ack(write.applied, sequence)


async def complete_step(
    ctx: RequestContext,
    *,
    task_id: uuid.UUID,
    step_id: uuid.UUID,
    token: Any,
    sequence: Any,
    result: Any = None,
    rollback: Any = None,
) -> Ack:
    check_json_object({"result": result}, field="body", max_bytes=MAX_CONTEXT_BYTES)
    rollback_data = check_json_object(rollback, field="rollback", max_bytes=MAX_CONTEXT_BYTES)
    async with write_under_lease(ctx, task_id, token, sequence) as write:
        step = await _running_step(write, step_id)
        if write.applied:
            step.status = StepStatus.COMPLETED
            step.progress = 1.0
            step.result = result
            step.rollback = rollback_data if rollback is not None else None
            step.finished_at = utcnow()
            write.tx.emit(
                EventType.STEP_COMPLETE, step=STEP_IN_EVENT(step), result=result, progress=1.0
            )
        return Ack(write.applied, sequence, {"step": STEP_IN_EVENT(step)})


def checked_error(error: Any) -> dict[str, str]:
    if not isinstance(error, dict):
        raise ValidationFailedError("error must be an object {code, message}", field="error")
    code = clean_text(error.get("code"), field="error.code", max_chars=64, required=True)
    message = clean_text(
        error.get("message"), field="error.message", max_chars=MAX_LOG_CHARS, required=True
    )
    assert code is not None and message is not None
    return {"code": code, "message": message}


async def fail_step(
    ctx: RequestContext,
    *,
    task_id: uuid.UUID,
    step_id: uuid.UUID,
    token: Any,
    sequence: Any,
    error: Any,
) -> Ack:
    failure = checked_error(error)
    async with write_under_lease(ctx, task_id, token, sequence) as write:
        step = await step_of_lease(write, step_id)
        if write.applied:
            tx = write.tx
            step.status = StepStatus.FAILED
            step.error = failure
            step.finished_at = utcnow()
            for other in await steps_of_task(tx.session, task_id):
                if other.status == StepStatus.PENDING:
                    other.status = StepStatus.SKIPPED
            tx.task.error = {
                "code": "STEP_FAILED",
                "message": failure["message"],
                "stepId": str(step_id),
            }
            end_lease(tx)
            tx.log(failure["message"], level=LogLevel.ERROR, step_id=step_id)
            tx.emit(
                EventType.ERROR,
                step=STEP_IN_EVENT(step),
                message=failure["message"],
                error=tx.task.error,
            )
            tx.set_status(TaskStatus.FAILED, message=failure["message"])
        return Ack(write.applied, sequence)


async def extend_plan(
    ctx: RequestContext, *, task_id: uuid.UUID, token: Any, sequence: Any, steps: Any
) -> Ack:
    """Append steps to the plan, each checked against the executor's declared actions."""
    async with write_under_lease(ctx, task_id, token, sequence) as write:
        tx = write.tx
        existing = await steps_of_task(tx.session, task_id)
        if not write.applied:
            return Ack(False, sequence, {"steps": [STEP_IN_EVENT(s) for s in existing]})
        actions = await actions_of(ctx, tx.task.executor or DEFAULT_EXECUTOR)
        assert actions is not None
        try:
            specs = parse_steps(steps, actions, where="steps")
        except PlanError as error:
            raise ValidationFailedError(str(error), field=error.field or "steps") from error
        added = step_rows(tx.task, specs, first_position=len(existing))
        tx.session.add_all(added)
        await tx.session.flush()
        tx.log(f"the worker planned {len(added)} step(s)")
        return Ack(True, sequence, {"steps": [STEP_IN_EVENT(s) for s in [*existing, *added]]})


async def request_approval(
    ctx: RequestContext,
    *,
    task_id: uuid.UUID,
    token: Any,
    sequence: Any,
    step_id: uuid.UUID,
    prompt: Any,
    parameters: Any = None,
    timeout_seconds: Any = None,
    on_timeout: Any = None,
    dedupe_key: Any = None,
    approval: Any = None,
) -> Ack:
    """Open an approval request on a step; a repeat with the same `dedupeKey` (or a retried
    sequence) answers the existing request. `approval` is the request's policy (the step's
    own when omitted)."""
    text = clean_text(prompt, field="prompt", max_chars=2000, required=True)
    params = check_json_object(parameters, field="parameters", max_bytes=MAX_CONTEXT_BYTES)
    key = clean_text(dedupe_key, field="dedupeKey", max_chars=255)
    try:
        policy = (
            parse_approval_policy(approval, where="approval").to_json()
            if approval is not None
            else None
        )
    except PlanError as error:
        raise ValidationFailedError(str(error), field=error.field or "approval") from error
    if on_timeout is not None and parse_word(OnTimeout, on_timeout) is None:
        raise ValidationFailedError(
            "onTimeout must be 'reject', 'cancel' or 'approve'", field="onTimeout"
        )
    async with write_under_lease(ctx, task_id, token, sequence) as write:
        tx = write.tx
        step = await step_of_lease(write, step_id)
        approvals = (await approvals_by_task_ids(tx.session, [task_id]))[0]
        for approval in approvals:
            same_key = key is not None and approval.dedupe_key == key
            if same_key or (not write.applied and approval.step_id == step_id):
                return Ack(False, sequence, {"approval": APPROVAL_IN_EVENT(approval)})
        if not write.applied:
            raise ConflictError(
                "the retried request opened no approval", hint="send it with a new sequence"
            )
        if step.status not in (StepStatus.PENDING, StepStatus.RUNNING):
            raise ConflictError(
                f"step {step_id} is {step.status}; only a pending or running step can ask",
                hint="ask before completing the step",
            )
        timeout = _number(
            timeout_seconds,
            field="timeoutSeconds",
            low=1,
            high=604_800,
            default=_default_timeout(ctx, tx.task),
        )
        approval = ApprovalRequest(
            id=uuid.uuid4(),
            task_id=task_id,
            step_id=step_id,
            status=ApprovalStatus.PENDING,
            prompt=text,
            parameters=params or dict(step.params),
            created_at=utcnow(),
            on_timeout=str(on_timeout or tx.task.context.get("onApprovalTimeout", "reject")),
            expires_at=utcnow() + timedelta(seconds=timeout),
            dedupe_key=key,
            policy=policy or step.approval_policy,
        )
        tx.session.add(approval)
        if policy is not None:
            add_reviewer_roles(tx.task, policy["roles"])
        step.status = StepStatus.AWAITING_APPROVAL
        tx.set_status(TaskStatus.AWAITING_APPROVAL, message=text)
        tx.emit(
            EventType.APPROVAL_REQUEST,
            step=STEP_IN_EVENT(step),
            approvalRequest=APPROVAL_IN_EVENT(approval),
            message=text,
        )
        return Ack(True, sequence, {"approval": APPROVAL_IN_EVENT(approval)})


def _default_timeout(ctx: RequestContext, task: Task) -> float:
    requested = task.context.get("approvalTimeoutSeconds")
    if isinstance(requested, int | float) and not isinstance(requested, bool) and requested > 0:
        return float(requested)
    return ctx.engine.approval_timeout


async def complete_task(
    ctx: RequestContext, *, task_id: uuid.UUID, token: Any, sequence: Any, result: Any = None
) -> Ack:
    check_json_object({"result": result}, field="body", max_bytes=MAX_CONTEXT_BYTES)
    async with write_under_lease(ctx, task_id, token, sequence) as write:
        tx = write.tx
        if not write.applied:
            return Ack(False, sequence)
        steps = await steps_of_task(tx.session, task_id)
        open_steps = [s for s in steps if s.status in StepStatus.OPEN]
        if open_steps or tx.task.status != TaskStatus.RUNNING:
            raise ConflictError(
                f"the task cannot complete: {len(open_steps)} step(s) are not finished"
                if open_steps
                else f"the task is {tx.task.status}",
                hint="complete or fail every step first",
            )
        tx.task.result = {
            "stepsCompleted": sum(1 for s in steps if s.status == StepStatus.COMPLETED),
            "stepsSkipped": sum(1 for s in steps if s.status == StepStatus.SKIPPED),
            "artifacts": tx.task.artifacts,
            **({"output": result} if result is not None else {}),
        }
        end_lease(tx)
        tx.set_status(TaskStatus.COMPLETED)
        tx.emit(EventType.COMPLETED, status=TaskStatus.COMPLETED, result=tx.task.result)
    ctx.engine.wake()
    return Ack(True, sequence)


async def fail_task(
    ctx: RequestContext, *, task_id: uuid.UUID, token: Any, sequence: Any, error: Any
) -> Ack:
    """Fail the task; `{code: 'CANCELLED'}` acknowledges a cancel and ends it cancelled."""
    failure = checked_error(error)
    async with write_under_lease(ctx, task_id, token, sequence) as write:
        tx = write.tx
        if not write.applied:
            return Ack(False, sequence)
        if failure["code"] == "CANCELLED" and tx.task.cancel_requested:
            end_lease(tx)
            await cancel_everything(tx, message="cancelled while running")
        else:
            for step in await steps_of_task(tx.session, task_id):
                if step.status in (StepStatus.PENDING, StepStatus.AWAITING_APPROVAL):
                    step.status = StepStatus.SKIPPED
                elif step.status == StepStatus.RUNNING:
                    step.status = StepStatus.FAILED
                    step.error = failure
                    step.finished_at = utcnow()
            tx.task.error = failure
            end_lease(tx)
            tx.emit(EventType.ERROR, message=failure["message"], error=failure)
            await fail_pending_approvals(tx, message=failure["message"])
            tx.set_status(TaskStatus.FAILED, message=failure["message"])
    ctx.engine.wake()
    return Ack(True, sequence)
