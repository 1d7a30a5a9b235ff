"""`/api/approval-links/{token}`: show an approval request, and decide it once.

The token in the path is the credential (no header is read). A browser (`Accept:
text/html`) gets a small page whose buttons post a plain HTML form back here: no script,
no external request, and headers that keep the page out of frames, caches and referrers.
"""

from __future__ import annotations

from html import escape
from typing import Any

import orjson
from pydantic import Field
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from resolvers import approval_links as link_resolvers
from resolvers.errors import ValidationFailedError
from rest_compat.bodies import Body, text_schema
from rest_compat.envelope import success
from rest_compat.errors import describe
from rest_compat.inputs import Param, is_form_post, read_body, read_form
from rest_compat.routing import Call, Operation, Reply
from rest_compat.views import View

TOKEN = Param(
    "token",
    "path",
    {"type": "string", "minLength": 20, "maxLength": 200, "pattern": "^[A-Za-z0-9_-]+$"},
    "The link's token, as in the URL createApprovalLink returned.",
    required=True,
)
# The page has no script and loads nothing; its one inline <style> is allowed by hash-free
# 'unsafe-inline' for styles only. Framing is refused (the buttons must not be clickjacked).
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
JSON_HEADERS = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


class LinkDecisionBody(Body):
    """An answer sent through an approval link (JSON; an HTML form sends approved and message)."""

    approved: bool = Field(description="true approves; false rejects.")
    message: str | None = Field(
        default=None,
        description="A note kept with the decision.",
        json_schema_extra={"maxLength": 2000},
    )
    modified_parameters: dict[str, Any] | None = Field(
        default=None, description="Approve, but run the step with these parameters instead."
    )


# What the link's HTML page posts: the two fields a browser form can carry.
DECISION_FORM: dict[str, Any] = {
    "type": "object",
    "properties": {
        "approved": {"type": "string", "enum": ["true", "false"]},
        "message": {"type": "string", **text_schema(2000)},
    },
    "required": ["approved"],
    "additionalProperties": False,
}


class LinkStepView(View):
    id: str
    name: str
    action: str


class ApprovalLinkView(View):
    """The request a usable link decides."""

    link_id: str
    approval_id: str
    task_id: str
    task_name: str = Field(description="The task's text.")
    prompt: str
    parameters: dict[str, Any] = Field(description="What the step will run with.")
    step: LinkStepView | None
    status: str = Field(description="The request's status (pending while it can be decided).")
    required: int = Field(description="How many people must approve.")
    decides_as: str = Field(description="The person the link decides as: user:<subject>.")
    expires_at: str = Field(description="When the link stops working.")
    approval_expires_at: str = Field(description="When the request times out.")


class LinkDecisionView(View):
    """What the link's answer did."""

    approval_id: str
    decision: str = Field(description="approved, modified or rejected.")
    decided_by: str = Field(description="link:<id> for user:<subject>.")
    task_id: str
    task_status: str


def wants_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "application/json" not in accept.split(",")[0]


def _page(title: str, body: str, *, status: int = 200) -> HTMLResponse:
    html = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>"
        "body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}"
        "pre{background:#f4f4f4;padding:.75rem;overflow:auto}"
        "button{font-size:1rem;padding:.5rem 1.25rem;margin-right:.5rem}"
        "textarea{width:100%;min-height:4rem}</style></head><body>"
        f"<h1>{escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)


def request_page(data: dict[str, Any]) -> HTMLResponse:
    parameters = orjson.dumps(data["parameters"], option=orjson.OPT_INDENT_2).decode()
    step = data["step"]
    return _page(
        "Approval requested",
        f"<p><strong>{escape(data['prompt'])}</strong></p>"
        f"<p>Task: {escape(data['taskName'])}</p>"
        + (f"<p>Step: {escape(step['name'])} ({escape(step['action'])})</p>" if step else "")
        + f"<p>Parameters:</p><pre>{escape(parameters)}</pre>"
        f"<p>You decide as {escape(data['decidesAs'])}; the link works once, until "
        f"{escape(data['expiresAt'])}.</p>"
        "<form method=post><label>Message (optional)<br><textarea name=message maxlength=2000>"
        "</textarea></label><p>"
        "<button type=submit name=approved value=true>Approve</button>"
        "<button type=submit name=approved value=false>Reject</button></p></form>",
    )


def error_page(error: BaseException) -> HTMLResponse:
    info = describe(error)
    return _page(
        "This link cannot be used" if info.status == 410 else "Something went wrong",
        f"<p>{escape(info.message)}</p><p>{escape(info.hint)}</p>",
        status=info.status,
    )


async def show(call: Call) -> Response:
    try:
        view = await link_resolvers.view_approval_link(call.ctx, token=call.params["token"])
    except Exception as error:
        if wants_html(call.request):
            return error_page(error)
        raise
    data = view.to_json()
    if wants_html(call.request):
        return request_page(data)
    return success(ApprovalLinkView.model_validate(data).dump(), headers=JSON_HEADERS)


async def _answer(request: Request) -> LinkDecisionBody:
    if not is_form_post(request):
        return await read_body(request, LinkDecisionBody, required=True)
    form = await read_form(request)
    approved = form.get("approved")
    if approved not in ("true", "false"):
        raise ValidationFailedError("approved must be true or false", field="approved")
    return LinkDecisionBody(approved=approved == "true", message=form.get("message") or None)


async def decide(call: Call) -> Response:
    # A browser's form post asks for text/html; an API client gets the JSON envelope.
    html = wants_html(call.request)
    try:
        body = await _answer(call.request)
        decided = await link_resolvers.decide_by_approval_link(
            call.ctx,
            token=call.params["token"],
            approved=body.approved,
            message=body.message,
            modified_parameters=body.modified_parameters,
        )
    except Exception as error:
        if html:
            return error_page(error)
        raise
    data = LinkDecisionView(
        approval_id=str(decided.approval_id),
        decision=decided.decision,
        decided_by=decided.decided_by,
        task_id=str(decided.task.id),
        task_status=str(decided.task.status),
    )
    if html:
        return _page(
            "Thank you",
            f"<p>Your answer ({escape(decided.decision)}) was recorded as "
            f"{escape(decided.decided_by)}. This link is now used.</p>",
        )
    return success(data.dump(), headers=JSON_HEADERS)


PATH = "/approval-links/{token}"
OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "GET",
        PATH,
        "showApprovalLink",
        "Show the approval request a link decides",
        "No credential: the token in the path is one. JSON, or with `Accept: text/html` a "
        "small page with Approve and Reject buttons. Reading never uses the link. A used, "
        "expired or revoked link answers 410.",
        show,
        replies=(Reply(200, "The request.", ApprovalLinkView),),
        errors=(404, 410, 422, 503),
        params=(TOKEN,),
        tag="approvals",
        auth="none",
    ),
    Operation(
        "POST",
        PATH,
        "decideByApprovalLink",
        "Decide the approval request of a link, once",
        "Decides as the person who created the link, under the request's policy (the "
        "decision records `link:<id> for user:<subject>`). JSON, or an HTML form post with "
        "`approved` and `message`. The link is then used: a second answer is 410.",
        decide,
        replies=(Reply(200, "The decision.", LinkDecisionView),),
        errors=(400, 403, 404, 409, 410, 413, 415, 422, 429, 503),
        params=(TOKEN,),
        body=LinkDecisionBody,
        tag="approvals",
        auth="none",
        form_body=DECISION_FORM,
    ),
)
