"""The worker API (`/api/worker/...`): the routes execution engines call. Each calls one
resolver; only credentials with the `worker` scope get past the resolver's check."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field
from starlette.responses import Response

from domain.vocabulary import LogLevel
from resolvers import executors as executor_resolvers
from resolvers import worker as worker_resolvers
from resolvers import worker_artifacts, worker_undo
from resolvers.validation import parse_id
from rest_compat.bodies import ApprovalPolicyBody, Body, text_schema
from rest_compat.envelope import success
from rest_compat.inputs import Param
from rest_compat.routing import Call, Operation, Reply
from rest_compat.views import Timestamp, View
from subscriptions.wire import iso

WORKER_ERRORS = (400, 401, 403, 409, 413, 415, 422, 429, 503)


class ActionDeclaration(Body):
    """One action of an executor."""

    name: str = Field(
        description="The action name steps use; unique within the executor.",
        examples=["move_file"],
        json_schema_extra={"pattern": executor_resolvers.NAME_PATTERN},
    )
    parameter_schema: dict[str, Any] = Field(
        description="A JSON Schema (draft 2020-12) for the step's `params`.",
        examples=[
            {
                "type": "object",
                "properties": {"source": {"type": "string"}, "target": {"type": "string"}},
                "required": ["source", "target"],
            }
        ],
    )
    reversibility: str = Field(
        description="`REVERSIBLE`, `COMPENSATABLE` or `IRREVERSIBLE`.",
        json_schema_extra={"enum": ["REVERSIBLE", "COMPENSATABLE", "IRREVERSIBLE"]},
    )
    description: str | None = Field(
        default=None, description="What the action does.", json_schema_extra={"maxLength": 2000}
    )


class RegisterExecutorBody(Body):
    """An executor and the actions it can run."""

    name: str = Field(
        description="1 to 64 characters: a lower-case letter, then letters, digits, `_.-`.",
        examples=["file-organiser"],
        json_schema_extra={"pattern": executor_resolvers.NAME_PATTERN},
    )
    actions: list[ActionDeclaration] = Field(
        description="1 to 100 actions, each `parameterSchema` itself a valid JSON Schema "
        "(draft 2020-12).",
        json_schema_extra={"minItems": 1, "maxItems": executor_resolvers.MAX_ACTIONS},
    )


class ExecutorJson(View):
    """A registered executor."""

    name: str
    version: int = Field(description="1 on the first registration, one more on each repeat.")
    actions: list[dict[str, Any]]
    updated_at: Timestamp

    @classmethod
    def of(cls, row: executor_resolvers.RegisteredExecutor) -> ExecutorJson:
        return cls(
            name=row.name,
            version=row.version,
            actions=list(row.actions),
            updated_at=iso(row.updated_at) or "",
        )


class ExecutorData(View):
    executor: ExecutorJson


async def register(call: Call) -> Response:
    body: RegisterExecutorBody = call.body
    row = await executor_resolvers.register_executor(
        call.ctx,
        data=executor_resolvers.ExecutorInput(
            name=body.name,
            actions=[a.model_dump(by_alias=True, exclude_none=True) for a in body.actions],
        ),
    )
    return success(ExecutorData(executor=ExecutorJson.of(row)).dump())


TASK_ID = Param(
    "taskId", "path", {"type": "string", "format": "uuid"}, "The task id.", required=True
)
STEP_ID = Param(
    "stepId", "path", {"type": "string", "format": "uuid"}, "The step id.", required=True
)
# What resolvers/worker.py accepts for a lease's length and token.
LEASE_RANGE: dict[str, Any] = {"minimum": 5, "maximum": 300}
LEASE_TOKEN: dict[str, Any] = {"minLength": 1, "maxLength": 64}

LEASE_ERRORS = (400, 401, 403, 404, 409, 413, 415, 422, 429, 503)


class ClaimBody(Body):
    """What this worker can run, and for how long it takes a lease."""

    executors: list[str] = Field(
        description="Names of registered (or built-in) executors.",
        examples=[["builtin"]],
        json_schema_extra={"minItems": 1, "maxItems": worker_resolvers.MAX_EXECUTORS},
    )
    lease_seconds: float | None = Field(
        default=None, description="5 to 300 (default 30).", json_schema_extra=LEASE_RANGE
    )
    wait: float | None = Field(
        default=None,
        description="Seconds to wait for a task, 0 to 30 (default 0).",
        json_schema_extra={"minimum": 0, "maximum": 30},
    )


class HeartbeatBody(Body):
    """Renew the lease."""

    lease_token: str = Field(
        description="The token the claim returned.", json_schema_extra=LEASE_TOKEN
    )
    lease_seconds: float | None = Field(
        default=None, description="5 to 300 (default 30).", json_schema_extra=LEASE_RANGE
    )


class LeasedBody(Body):
    """Every write carries the lease token and the next sequence number (1, 2, 3 ...)."""

    lease_token: str = Field(
        description="The token the claim returned.", json_schema_extra=LEASE_TOKEN
    )
    sequence: int = Field(
        description="One more than this lease's previous write.",
        json_schema_extra={"minimum": 1, "maximum": worker_resolvers.MAX_SEQUENCE},
    )


class ProgressBody(LeasedBody):
    progress: float = Field(description="0 to 1.", json_schema_extra={"minimum": 0, "maximum": 1})
    message: str | None = Field(
        default=None, json_schema_extra=text_schema(worker_resolvers.MAX_LOG_CHARS)
    )


class LogBody(LeasedBody):
    level: str = Field(
        default="info",
        description="debug, info, warning or error.",
        json_schema_extra={"enum": [level.value for level in LogLevel]},
    )
    message: str = Field(
        description="At most 4000 characters.",
        json_schema_extra=text_schema(worker_resolvers.MAX_LOG_CHARS, required=True),
    )


class CompleteStepBody(LeasedBody):
    result: Any = None
    rollback: dict[str, Any] | None = Field(
        default=None, description="What undo needs to roll the step back."
    )


class FailBody(LeasedBody):
    error: dict[str, Any] = Field(
        description="`{code, message}`; code `CANCELLED` acknowledges a cancel.",
        json_schema_extra={
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", **text_schema(64, required=True)},
                "message": {
                    "type": "string",
                    **text_schema(worker_resolvers.MAX_LOG_CHARS, required=True),
                },
            },
        },
    )


class PlanBody(LeasedBody):
    steps: list[Any] = Field(description="Steps to append, as in `context.steps`.")


class ApprovalRequestBody(LeasedBody):
    step_id: str = Field(json_schema_extra={"format": "uuid"})
    prompt: str = Field(json_schema_extra=text_schema(2000, required=True))
    parameters: dict[str, Any] | None = None
    timeout_seconds: float | None = Field(
        default=None, json_schema_extra={"minimum": 1, "maximum": 604_800}
    )
    on_timeout: str | None = Field(
        default=None,
        description="reject, cancel or approve.",
        json_schema_extra={"enum": ["reject", "cancel", "approve"]},
    )
    dedupe_key: str | None = Field(
        default=None,
        description="A repeat with the same key returns the existing request.",
        json_schema_extra=text_schema(255),
    )
    approval: ApprovalPolicyBody | None = Field(
        default=None,
        description="Who decides and how many must agree (docs/approvals.md); the step's own "
        "policy when omitted.",
    )


class ArtifactBody(LeasedBody):
    # `value` only goes without `remove: true`.
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"properties": {"remove": {"enum": [False]}}},
                {"not": {"required": ["value"]}},
                {"properties": {"value": {"nullable": True, "enum": [None]}}},
            ]
        }
    )

    key: str = Field(
        description="1 to 200 characters.",
        json_schema_extra=text_schema(worker_artifacts.MAX_KEY_CHARS, required=True),
    )
    value: Any = Field(default=None, description="Any JSON, at most 64 KiB.")
    remove: bool = Field(default=False, description="Remove the artifact instead.")


class CompleteTaskBody(LeasedBody):
    result: Any = None


class ClaimedStep(View):
    id: str
    position: int
    name: str
    action: str
    params: dict[str, Any]
    requires_approval: bool
    reversibility: str
    status: str
    result: Any = None
    rollback: dict[str, Any] | None = Field(
        default=None, description="What the step's rollback needs, as reported on completion."
    )


class ClaimedTask(View):
    id: str
    task: str
    context: dict[str, Any]
    executor: str
    priority: int
    attempts: int


class ClaimData(View):
    """A claimed task under a new lease."""

    task: ClaimedTask
    lease_token: str
    lease_expires_at: Timestamp
    steps: list[ClaimedStep] = Field(description="Every step with its status: skip the done ones.")
    approvals: list[dict[str, Any]] = Field(
        description="Every approval request of the task and its decision, as in heartbeat "
        "signals: a task released while it waited for approval comes back with its decision."
    )
    inputs: list[dict[str, Any]] = Field(
        description="Input sent to the task `[{id, input, sentBy, sentAt}]`, as in heartbeat "
        "signals."
    )
    undo: list[str] | None = Field(
        default=None,
        description="Set when the claim is undo work: the ids of the steps to roll back, in "
        "that order (newest first); run each one's rollback and report it.",
    )


class SignalsData(View):
    """What the worker must act on."""

    lease_expires_at: Timestamp
    status: str
    cancel: dict[str, Any] | None = Field(description="`{mode}` when the task is cancelled.")
    approvals: list[dict[str, Any]] = Field(description="Every approval request and its state.")
    inputs: list[dict[str, Any]] = Field(
        description="Input sent to the task `[{id, input, sentBy, sentAt}]` (held back while "
        "an approval is pending); act on the ids you have not handled yet."
    )
    undo: list[str] | None = Field(
        default=None, description="Under an undo lease: the steps to roll back, in order."
    )


class AckData(View):
    """A write's answer; `applied` is false for a retried sequence (nothing changed)."""

    applied: bool
    sequence: int | None
    step: dict[str, Any] | None = None
    steps: list[dict[str, Any]] | None = None
    approval: dict[str, Any] | None = None
    status: str | None = Field(default=None, description="For release: the task's status now.")
    artifact: dict[str, Any] | None = Field(
        default=None,
        description="For artifacts: `{key, existed, previous}` (a retry: `{key, value}`).",
    )


def ack(result: worker_resolvers.Ack) -> Response:
    return success(AckData(applied=result.applied, sequence=result.sequence, **result.data).dump())


async def claim(call: Call) -> Response:
    body: ClaimBody = call.body
    claimed = await worker_resolvers.claim(
        call.ctx, executors=body.executors, lease_seconds=body.lease_seconds, wait=body.wait
    )
    if claimed is None:
        return Response(status_code=204)
    task = claimed.task
    data = ClaimData(
        task=ClaimedTask(
            id=str(task.id),
            task=task.task,
            context=task.context,
            executor=task.executor,
            priority=task.priority,
            attempts=task.attempts,
        ),
        lease_token=claimed.token,
        lease_expires_at=iso(claimed.expires_at) or "",
        steps=[
            ClaimedStep(
                id=str(s.id),
                position=s.position,
                name=s.name,
                action=s.action,
                params=s.params,
                requires_approval=s.requires_approval,
                reversibility=s.reversibility,
                status=s.status,
                result=s.result,
                rollback=s.rollback,
            )
            for s in claimed.steps
        ],
        approvals=claimed.approvals,
        inputs=claimed.inputs,
        undo=claimed.undo,
    )
    return success(data.dump())


async def heartbeat(call: Call) -> Response:
    body: HeartbeatBody = call.body
    signals = await worker_resolvers.heartbeat(
        call.ctx,
        task_id=call.params["taskId"],
        token=body.lease_token,
        lease_seconds=body.lease_seconds,
    )
    data = SignalsData(
        lease_expires_at=iso(signals.lease_expires_at) or "",
        status=signals.status,
        cancel=signals.cancel,
        approvals=signals.approvals,
        inputs=signals.inputs,
        undo=signals.undo,
    )
    return success(data.dump())


def _lease(call: Call) -> dict[str, Any]:
    body: LeasedBody = call.body
    return {"task_id": call.params["taskId"], "token": body.lease_token, "sequence": body.sequence}


async def start_step(call: Call) -> Response:
    return ack(
        await worker_resolvers.start_step(call.ctx, step_id=call.params["stepId"], **_lease(call))
    )


async def step_progress(call: Call) -> Response:
    body: ProgressBody = call.body
    return ack(
        await worker_resolvers.step_progress(
            call.ctx,
            step_id=call.params["stepId"],
            progress=body.progress,
            message=body.message,
            **_lease(call),
        )
    )


async def step_log(call: Call) -> Response:
    body: LogBody = call.body
    return ack(
        await worker_resolvers.step_log(
            call.ctx,
            step_id=call.params["stepId"],
            level=body.level,
            message=body.message,
            **_lease(call),
        )
    )


async def complete_step(call: Call) -> Response:
    body: CompleteStepBody = call.body
    return ack(
        await worker_resolvers.complete_step(
            call.ctx,
            step_id=call.params["stepId"],
            result=body.result,
            rollback=body.rollback,
            **_lease(call),
        )
    )


async def fail_step(call: Call) -> Response:
    body: FailBody = call.body
    return ack(
        await worker_resolvers.fail_step(
            call.ctx, step_id=call.params["stepId"], error=body.error, **_lease(call)
        )
    )


async def plan(call: Call) -> Response:
    body: PlanBody = call.body
    return ack(await worker_resolvers.extend_plan(call.ctx, steps=body.steps, **_lease(call)))


async def approvals(call: Call) -> Response:
    body: ApprovalRequestBody = call.body
    return ack(
        await worker_resolvers.request_approval(
            call.ctx,
            step_id=parse_id(body.step_id, field="stepId"),
            prompt=body.prompt,
            parameters=body.parameters,
            timeout_seconds=body.timeout_seconds,
            on_timeout=body.on_timeout,
            dedupe_key=body.dedupe_key,
            approval=body.approval.policy() if body.approval is not None else None,
            **_lease(call),
        )
    )


async def write_artifact(call: Call) -> Response:
    body: ArtifactBody = call.body
    return ack(
        await worker_artifacts.write_artifact(
            call.ctx, key=body.key, value=body.value, remove=body.remove, **_lease(call)
        )
    )


async def release_task(call: Call) -> Response:
    return ack(await worker_resolvers.release_task(call.ctx, **_lease(call)))


async def step_rolled_back(call: Call) -> Response:
    return ack(
        await worker_undo.report_rolled_back(
            call.ctx, step_id=call.params["stepId"], **_lease(call)
        )
    )


async def step_rollback_failed(call: Call) -> Response:
    body: FailBody = call.body
    return ack(
        await worker_undo.fail_undo_step(
            call.ctx, step_id=call.params["stepId"], error=body.error, **_lease(call)
        )
    )


async def undo_complete(call: Call) -> Response:
    return ack(await worker_undo.complete_undo(call.ctx, **_lease(call)))


async def complete_task(call: Call) -> Response:
    body: CompleteTaskBody = call.body
    return ack(await worker_resolvers.complete_task(call.ctx, result=body.result, **_lease(call)))


async def fail_task(call: Call) -> Response:
    body: FailBody = call.body
    return ack(await worker_resolvers.fail_task(call.ctx, error=body.error, **_lease(call)))


ACK = (Reply(200, "Applied, or acknowledged again for a retried sequence.", AckData),)
WRITE_NOTE = (
    " Carries `leaseToken` and `sequence`; a stale or foreign token is 409 `LEASE_LOST` "
    "and changes nothing; a sequence already applied is acknowledged (`applied: false`)."
)


def _step_op(
    verb: str, op_id: str, summary: str, text: str, handler: Any, body: type[Body]
) -> Operation:
    return Operation(
        "POST",
        f"/worker/tasks/{{taskId}}/steps/{{stepId}}/{verb}",
        op_id,
        summary,
        text + WRITE_NOTE,
        handler,
        replies=ACK,
        errors=LEASE_ERRORS,
        params=(TASK_ID, STEP_ID),
        body=body,
        tag="worker",
    )


def _task_op(
    verb: str, op_id: str, summary: str, text: str, handler: Any, body: type[Body]
) -> Operation:
    return Operation(
        "POST",
        f"/worker/tasks/{{taskId}}/{verb}",
        op_id,
        summary,
        text + WRITE_NOTE,
        handler,
        replies=ACK,
        errors=LEASE_ERRORS,
        params=(TASK_ID,),
        body=body,
        tag="worker",
    )


OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "POST",
        "/worker/executors",
        "registerExecutor",
        "Register an executor's actions",
        "Declares (or replaces) the actions an executor runs, each with a JSON Schema "
        "(draft 2020-12) for its params and its reversibility. Plans naming this executor "
        "(`context.executor`) are checked against them. Needs a `worker` key; a name "
        "registered by another user, or a built-in one, is 409.",
        register,
        replies=(Reply(200, "The executor as registered.", ExecutorData),),
        errors=WORKER_ERRORS,
        body=RegisterExecutorBody,
        tag="worker",
    ),
    Operation(
        "POST",
        "/worker/claim",
        "claimTask",
        "Claim the next task",
        "The next task of the named executors the scheduler allows (priority, then age, "
        "within the global and per-user limits), under a new lease; 204 when none comes "
        "within `wait` seconds. `steps` carry their status: run only those not done.",
        claim,
        replies=(
            Reply(200, "A task and its lease.", ClaimData),
            Reply(204, "Nothing to claim.", None, media_type="text/plain"),
        ),
        errors=(*WORKER_ERRORS, 404),
        body=ClaimBody,
        tag="worker",
    ),
    Operation(
        "POST",
        "/worker/tasks/{taskId}/heartbeat",
        "heartbeatTask",
        "Renew the lease and read signals",
        "Extends the lease by `leaseSeconds` and answers the signals: `cancel` (with its "
        "mode) and every approval request with its state. A lost lease is 409 `LEASE_LOST`.",
        heartbeat,
        replies=(Reply(200, "The lease and the signals.", SignalsData),),
        errors=LEASE_ERRORS,
        params=(TASK_ID,),
        body=HeartbeatBody,
        tag="worker",
    ),
    _step_op(
        "start",
        "startStep",
        "Start a step",
        "A pending step starts running "
        "(`step_start`); a step that needs approval must be approved first.",
        start_step,
        LeasedBody,
    ),
    _step_op(
        "progress",
        "reportStepProgress",
        "Report progress",
        "`step_progress`, 0 to 1.",
        step_progress,
        ProgressBody,
    ),
    _step_op("log", "logStep", "Log a line", "A log line on the step.", step_log, LogBody),
    _step_op(
        "complete",
        "completeStep",
        "Complete a step",
        "`step_complete` with the result.",
        complete_step,
        CompleteStepBody,
    ),
    _step_op(
        "fail",
        "failStep",
        "Fail a step",
        "The step and the task fail (`error`).",
        fail_step,
        FailBody,
    ),
    _task_op(
        "plan",
        "planTask",
        "Plan or extend the plan",
        "Appends steps, each checked "
        "against the executor's declared schemas (422 naming the path).",
        plan,
        PlanBody,
    ),
    _task_op(
        "approvals",
        "requestApproval",
        "Ask for an approval",
        "Opens an approval request "
        "on a step (`approval_request`); the decision comes in heartbeat signals.",
        approvals,
        ApprovalRequestBody,
    ),
    _task_op(
        "artifacts",
        "writeArtifact",
        "Store an artifact",
        "Stores `value` as the task's artifact `key` (or removes it with `remove: true`); "
        "answers whether it existed and its previous value, for the step's rollback.",
        write_artifact,
        ArtifactBody,
    ),
    _task_op(
        "release",
        "releaseTask",
        "Give the task back",
        "Ends this worker's lease without failing the task. A task awaiting approval is "
        "parked (no lease, no slot) and claimable again once the decision arrives, the "
        "claim carrying the decision; a running task goes back to the queue, its running "
        "step to be started again. Neither counts as a failed attempt.",
        release_task,
        LeasedBody,
    ),
    _step_op(
        "rolled-back",
        "reportStepRolledBack",
        "Report a step rolled back",
        "Under an undo lease: the step's rollback succeeded (`step_rolled_back`). Steps go in "
        "the order the claim's `undo` lists them.",
        step_rolled_back,
        LeasedBody,
    ),
    _step_op(
        "rollback-failed",
        "reportRollbackFailed",
        "Report a rollback that failed",
        "Under an undo lease: the step's rollback failed; the undo ends there (`error` "
        "`ROLLBACK_FAILED`, `undo_complete`), the steps rolled back before it stay so.",
        step_rollback_failed,
        FailBody,
    ),
    _task_op(
        "undo/complete",
        "completeUndo",
        "Complete the undo",
        "Under an undo lease, after every listed step is rolled back: `rolled_back` when no "
        "completed step is left, and `undo_complete`; the lease ends.",
        undo_complete,
        LeasedBody,
    ),
    _task_op(
        "complete",
        "completeTask",
        "Complete the task",
        "Every step must be finished.",
        complete_task,
        CompleteTaskBody,
    ),
    _task_op(
        "fail",
        "failTask",
        "Fail the task",
        "Ends the task failed; `{code: 'CANCELLED'}` acknowledges a cancel and ends it cancelled.",
        fail_task,
        FailBody,
    ),
)
