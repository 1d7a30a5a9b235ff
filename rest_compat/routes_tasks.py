"""The seed's task routes: submit, read, approve, undo, history, cancel. Each calls one resolver."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from domain.vocabulary import CancelMode, InputPolicy, TaskStatus
from resolvers import approvals as approval_resolvers
from resolvers import history as history_resolvers
from resolvers import inputs as input_resolvers
from resolvers import tasks as task_resolvers
from resolvers import undo as undo_resolvers
from resolvers import views as view_resolvers
from resolvers.validation import MAX_KEY_CHARS, parse_id
from rest_compat.bodies import ApproveBody, InputBody, SubmitTaskBody, UndoBody, text_schema
from rest_compat.envelope import success
from rest_compat.inputs import Param
from rest_compat.payloads import CurrentExecution, HistoryPage, TaskData, TaskDetail
from rest_compat.routing import Call, Operation, Reply
from rest_compat.views import LogView, StepView, TaskJson

TASK_ID = Param(
    "taskId",
    "path",
    {"type": "string", "format": "uuid"},
    "The task id.",
    required=True,
    example="3f2b8c1e-9d4a-4e6b-8f1a-2c3d4e5f6a7b",
)
IDEMPOTENCY_KEY = Param(
    "Idempotency-Key",
    "header",
    {"type": "string", **text_schema(MAX_KEY_CHARS)},
    "A repeat with the same key returns the first task (200) instead of creating one (201); "
    "use a key of your own per task, such as `order-4711`.",
    # No example: "Try it out" would pre-fill it, and a second run would return the first task.
)
CANCEL_MODE = Param(
    "mode",
    "query",
    {
        "type": "string",
        "enum": [m.value for m in CancelMode],
        "default": CancelMode.IMMEDIATE.value,
    },
    "`immediate` stops a running task at its next checkpoint; `after_step` lets the "
    "running step finish.",
    default=CancelMode.IMMEDIATE.value,
)
# The page size of every paged REST route (history, the approval inbox).
PAGE_LIMIT = Param(
    "limit",
    "query",
    {"type": "integer", "minimum": 1, "maximum": history_resolvers.MAX_PAGE, "default": 20},
    "Page size.",
    default=20,
)
HISTORY_PARAMS = (
    Param(
        "status",
        "query",
        {"type": "string", "enum": [s.value for s in TaskStatus]},
        "Only tasks in this status.",
    ),
    Param(
        "conversationId",
        "query",
        {"type": "string", "maxLength": MAX_KEY_CHARS},
        "Only tasks of this conversation (as `Query.tasks(conversationId:)`).",
    ),
    PAGE_LIMIT,
    Param(
        "offset",
        "query",
        {"type": "integer", "minimum": 0, "maximum": 2**31 - 1, "default": 0},
        "How many tasks to skip.",
        default=0,
    ),
    Param(
        "dateFrom",
        "query",
        {"type": "string", "format": "date-time"},
        "Created at or after (ISO 8601, such as `2026-01-01T00:00:00Z`; UTC when no offset "
        "is given).",
        # No example for either end: a pre-filled range would hide the tasks of later years.
    ),
    Param(
        "dateTo",
        "query",
        {"type": "string", "format": "date-time"},
        "Created at or before (ISO 8601); not before `dateFrom` (else 422 VALIDATION).",
    ),
)


async def task_data(call: Call, task: Any, *, status: int = 200, **headers: str) -> Response:
    view = await view_resolvers.view_task(call.ctx, task)
    return success(TaskData(task=TaskJson.of(view)).dump(), status=status, headers=headers or None)


async def submit(call: Call) -> Response:
    body: SubmitTaskBody = call.body
    submitted = await task_resolvers.submit_task(
        call.ctx,
        data=task_resolvers.SubmitTaskInput(
            task=body.task,
            priority=body.priority,
            conversation_id=body.conversation_id,
            context=body.context,
            idempotency_key=call.params["Idempotency-Key"],
        ),
    )
    return await task_data(
        call,
        submitted.task,
        status=201 if submitted.created else 200,
        Location=f"/api/agent/{submitted.task.id}",
    )


async def get_one(call: Call) -> Response:
    view = await view_resolvers.get_task_view(call.ctx, task_id=call.params["taskId"])
    data = TaskDetail(task=TaskJson.of(view), logs=[LogView.of(r) for r in view.logs]).dump()
    step = view.current_step
    if step is None:
        # The seed's shape: `currentExecution?` is absent, not null, when nothing runs.
        del data["currentExecution"]
    else:
        data["currentExecution"] = CurrentExecution(
            step=StepView.of(step), progress=view.progress, status=step.status
        ).dump()
    return success(data)


async def approve(call: Call) -> Response:
    body: ApproveBody = call.body
    task = await approval_resolvers.approve_step(
        call.ctx,
        task_id=call.params["taskId"],
        answer=approval_resolvers.ApprovalAnswer(
            approval_id=parse_id(body.approval_id, field="approvalId"),
            approved=body.approved,
            message=body.message,
            modified_parameters=body.modified_parameters,
        ),
    )
    return await task_data(call, task)


async def undo(call: Call) -> Response:
    body: UndoBody = call.body
    task = await undo_resolvers.undo_task(
        call.ctx,
        task_id=call.params["taskId"],
        step_id=parse_id(body.step_id, field="stepId") if body.step_id is not None else None,
    )
    return await task_data(call, task)


async def cancel(call: Call) -> Response:
    task = await task_resolvers.cancel_task(
        call.ctx, task_id=call.params["taskId"], mode=call.params["mode"]
    )
    return await task_data(call, task)


async def send_input(call: Call) -> Response:
    body: InputBody = call.body
    task = await input_resolvers.send_input(
        call.ctx,
        task_id=call.params["taskId"],
        input=body.input,
        policy=body.policy or InputPolicy.QUEUE,
    )
    return await task_data(call, task)


async def history(call: Call) -> Response:
    p = call.params
    page = await history_resolvers.list_tasks(
        call.ctx,
        query=history_resolvers.TaskQuery(
            status=p["status"],
            conversation_id=p["conversationId"],
            date_from=p["dateFrom"],
            date_to=p["dateTo"],
        ),
        limit=p["limit"],
        offset=p["offset"],
        total_at_most=history_resolvers.TOTAL_COUNT_LIMIT,
    )
    views = await view_resolvers.view_tasks(call.ctx, page.tasks)
    data = HistoryPage(
        tasks=[TaskJson.of(v) for v in views],
        total=page.total or 0,
        total_exact=page.total_exact,
        limit=p["limit"],
        offset=p["offset"],
    )
    return success(data.dump())


TASK_REPLY = Reply(200, "The task as it stands after the call.", TaskData)
OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "POST",
        "/agent",
        "submitTask",
        "Submit a task",
        "Stores the task `pending` with its planned steps and queues it by priority, then age.",
        submit,
        replies=(
            Reply(201, "Created and queued.", TaskData, headers=("Location",)),
            Reply(200, "A repeat with the same Idempotency-Key: the first task.", TaskData),
        ),
        errors=(400, 401, 403, 413, 415, 422, 429, 503),
        params=(IDEMPOTENCY_KEY,),
        body=SubmitTaskBody,
    ),
    Operation(
        "GET",
        "/agent/history",
        "taskHistory",
        "List your tasks",
        "Your tasks (every task for an admin), newest first, with filters.",
        history,
        replies=(Reply(200, "A page of tasks.", HistoryPage),),
        errors=(401, 403, 422, 429, 503),
        params=HISTORY_PARAMS,
    ),
    Operation(
        "GET",
        "/agent/{taskId}",
        "getTask",
        "Read a task",
        "The task, its log and the step running now. Another user's task is 404, "
        "exactly like a missing one.",
        get_one,
        replies=(Reply(200, "The task.", TaskDetail),),
        errors=(401, 403, 404, 422, 429, 503),
        params=(TASK_ID,),
    ),
    Operation(
        "DELETE",
        "/agent/{taskId}",
        "cancelTask",
        "Cancel a task",
        "Pending and awaiting-approval tasks end at once; a running one stops at its next "
        "checkpoint (`mode=immediate`, the default) or once its running step finishes "
        "(`mode=after_step`); the returned status is still `running`. A finished task is 409.",
        cancel,
        replies=(TASK_REPLY,),
        errors=(401, 403, 404, 409, 422, 429, 503),
        params=(TASK_ID, CANCEL_MODE),
    ),
    Operation(
        "POST",
        "/agent/{taskId}/approve",
        "approveStep",
        "Answer an approval request",
        "Approve, reject, or approve with `modifiedParameters`. An answered or expired "
        "request is 409.",
        approve,
        replies=(TASK_REPLY,),
        errors=(400, 401, 403, 404, 409, 413, 415, 422, 429, 503),
        params=(TASK_ID,),
        body=ApproveBody,
    ),
    Operation(
        "POST",
        "/agent/{taskId}/undo",
        "undoSteps",
        "Undo completed steps",
        "Rolls completed steps back, newest first, down to `stepId` (the last completed step "
        "when omitted). Nothing changes unless every step in the plan can be rolled back (409).",
        undo,
        replies=(TASK_REPLY,),
        errors=(400, 401, 403, 404, 409, 413, 415, 422, 429, 503),
        params=(TASK_ID,),
        body=UndoBody,
        body_required=False,
    ),
    Operation(
        "POST",
        "/agent/{taskId}/input",
        "sendInput",
        "Send input to a task",
        "Recorded as an `input` event and handed to the task's worker in its heartbeat. "
        "While an approval is pending, `policy` decides: `queue` (default) or "
        "`reject_pending`. A finished task is 409.",
        send_input,
        replies=(TASK_REPLY,),
        errors=(400, 401, 403, 404, 409, 413, 415, 422, 429, 503),
        params=(TASK_ID,),
        body=InputBody,
    ),
)
