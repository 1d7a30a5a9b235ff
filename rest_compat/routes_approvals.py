"""The approval inbox over REST: the same resolver as `Query.approvals`."""

from __future__ import annotations

from starlette.responses import Response

from domain.vocabulary import ApprovalStatus
from resolvers import approvals as approval_resolvers
from resolvers import history as history_resolvers
from rest_compat.approval_views import InboxApproval, InboxPage
from rest_compat.envelope import success
from rest_compat.inputs import Param
from rest_compat.routing import Call, Operation, Reply

INBOX_PARAMS = (
    Param(
        "status",
        "query",
        {"type": "string", "enum": [s.value for s in ApprovalStatus]},
        "Only requests in this status.",
    ),
    Param(
        "limit",
        "query",
        {"type": "integer", "minimum": 1, "maximum": history_resolvers.MAX_PAGE, "default": 20},
        "Page size.",
        default=20,
    ),
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
)
