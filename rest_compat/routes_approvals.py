"""The approval inbox over REST: the same resolver as `Query.approvals`."""

from __future__ import annotations

from starlette.responses import Response

from domain.vocabulary import ApprovalStatus
from resolvers import approvals as approval_resolvers
from resolvers import batch_approvals as batch_resolvers
from resolvers import history as history_resolvers
from resolvers import views as view_resolvers
from resolvers.validation import parse_id
from rest_compat.approval_views import (
    BatchDecisionView,
    BatchResultView,
    InboxApproval,
    InboxPage,
)
from rest_compat.bodies import ApproveBatchBody
from rest_compat.envelope import success
from rest_compat.inputs import Param
from rest_compat.routes_tasks import PAGE_LIMIT
from rest_compat.routing import Call, Operation, Reply
from rest_compat.views import TaskJson

INBOX_PARAMS = (
    Param(
        "status",
        "query",
        {"type": "string", "enum": [s.value for s in ApprovalStatus]},
        "Only requests in this status.",
    ),
    PAGE_LIMIT,
    Param(
        "after",
        "query",
        {"type": "string", "maxLength": 200},
        "`nextCursor` of the previous page, unchanged: an opaque cursor this API issued "
        "(any other value is 422 VALIDATION).",
    ),
)


async def inbox(call: Call) -> Response:
    p = call.params
    page = await approval_resolvers.approval_inbox(
        call.ctx, status=p["status"], first=p["limit"], after=p["after"]
    )
    entries = await approval_resolvers.inbox_entries(call.ctx, page.approvals)
    next_cursor = (
        history_resolvers.encode_cursor(page.approvals[-1])
        if page.has_next and page.approvals
        else None
    )
    data = InboxPage(
        approvals=[InboxApproval.of_entry(e) for e in entries], next_cursor=next_cursor
    )
    return success(data.dump())


async def batch(call: Call) -> Response:
    body: ApproveBatchBody = call.body
    result = await batch_resolvers.approve_batch(
        call.ctx,
        items=[
            batch_resolvers.BatchItem(
                task_id=parse_id(d.task_id, field=f"decisions[{i}].taskId"),
                answer=approval_resolvers.ApprovalAnswer(
                    approval_id=parse_id(d.approval_id, field=f"decisions[{i}].approvalId"),
                    approved=d.approved,
                    message=d.message,
                    modified_parameters=d.modified_parameters,
                ),
            )
            for i, d in enumerate(body.decisions)
        ],
        atomic=body.atomic,
        idempotency_key=body.idempotency_key,
    )
    recorded = {t.id: t for t in result.tasks}
    views = {
        v.task.id: v for v in await view_resolvers.view_tasks(call.ctx, list(recorded.values()))
    }
    data = BatchResultView(
        batch_id=str(result.batch_id),
        atomic=result.atomic,
        replayed=result.replayed,
        results=[
            BatchDecisionView(
                approval_id=str(o.approval_id),
                task_id=str(o.task_id),
                ok=o.error_code is None,
                task=TaskJson.of(views[o.task_id])
                if o.error_code is None and o.task_id in views
                else None,
                error=(
                    {"code": o.error_code, "message": o.error_message or ""}
                    if o.error_code is not None
                    else None
                ),
            )
            for o in result.outcomes
        ],
    )
    return success(data.dump())


OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "GET",
        "/agent/approvals",
        "approvalInbox",
        "Your approval inbox",
        "Newest first: the requests of your tasks and of the tasks whose approval policies "
        "name one of your roles (every request for an admin), each with its task, step and "
        "decisions so far.",
        inbox,
        replies=(Reply(200, "A page of approval requests.", InboxPage),),
        errors=(401, 403, 422, 429, 503),
        params=INBOX_PARAMS,
        tag="approvals",
    ),
    Operation(
        "POST",
        "/agent/approvals/batch",
        "approveBatch",
        "Answer several approval requests",
        "Atomic (the default): every answer is checked first and the first refusal is the "
        "error, nothing changed. Partial (`atomic: false`): one result per answer, the task or "
        "the error with its code. A repeat with the same `idempotencyKey` returns the first "
        "result (`replayed: true`).",
        batch,
        replies=(Reply(200, "What the batch did.", BatchResultView),),
        errors=(400, 401, 403, 404, 409, 413, 415, 422, 429, 503),
        body=ApproveBatchBody,
        tag="approvals",
    ),
)
