"""Approve by link: a single-use URL that decides one approval request as its creator.

The creator must be someone who may decide the request (its policy's rules); the link then
lets whoever holds it answer once, through `approve_step`, as that person: the decision and
the audit record name both (`link:<id> for user:<subject>`), and the policy's required
count applies as to any other answer. The token is random (256 bits) and only its sha256 is
stored. A used, expired or revoked link answers `GONE` (docs/approvals.md).
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from auth.principal import DECIDE_SCOPE, Principal
from db.engine import write_session
from db.models import ApprovalLink, ApprovalRequest, Task, TaskStep, utcnow
from db.repositories.approval_links import find_link, get_link, token_hash
from db.repositories.approvals import decisions_by_approval_ids
from db.repositories.audit import record_audit
from db.repositories.steps import get_approval, get_step
from db.repositories.tasks import get_task
from domain.vocabulary import ApprovalStatus
from resolvers.access import hidden, visible
from resolvers.approvals import (
    ApprovalAnswer,
    approval_policy_of,
    approve_step,
    check_may_decide,
    check_pending,
)
from resolvers.context import RequestContext
from resolvers.errors import ConflictError, GoneError, NotFoundError
from resolvers.limits import authorize
from resolvers.task_tokens import check_ttl, refuse_scoped

MAX_LINK_SECONDS = 7 * 24 * 3600
DEFAULT_LINK_SECONDS = 3600
# Where a link lives, under the server's base URL.
LINK_PATH = "/api/approval-links/"


@dataclass(frozen=True, slots=True)
class CreatedLink:
    link_id: uuid.UUID
    token: str
    approval_id: uuid.UUID
    task_id: uuid.UUID
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class LinkView:
    """What the holder of a link sees before deciding."""

    link: ApprovalLink
    approval: ApprovalRequest
    task: Task
    step: TaskStep | None

    def to_json(self) -> dict[str, Any]:
        policy = approval_policy_of(self.approval)
        step = self.step
        return {
            "linkId": str(self.link.id),
            "approvalId": str(self.approval.id),
            "taskId": str(self.task.id),
            "taskName": self.task.task,
            "prompt": self.approval.prompt,
            "parameters": self.approval.modified_parameters or self.approval.parameters or {},
            "step": None
            if step is None
            else {"id": str(step.id), "name": step.name, "action": step.action},
            "status": str(self.approval.status),
            "required": policy.required,
            "decidesAs": f"user:{self.link.creator_subject}",
            "expiresAt": self.link.expires_at.isoformat(),
            "approvalExpiresAt": self.approval.expires_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class LinkDecision:
    approval_id: uuid.UUID
    decision: str
    decided_by: str
    task: Task


def _gone_reason(link: ApprovalLink, now: datetime) -> str | None:
    if link.used_at is not None:
        return f"this approval link was already used, at {link.used_at.isoformat()}"
    if link.revoked_at is not None:
        return f"this approval link was revoked, at {link.revoked_at.isoformat()}"
    if link.expires_at <= now:
        return f"this approval link expired at {link.expires_at.isoformat()}"
    return None


async def create_approval_link(
    ctx: RequestContext, *, approval_id: uuid.UUID, ttl_seconds: int = DEFAULT_LINK_SECONDS
) -> CreatedLink:
    """A link deciding this pending request as the caller, who must be allowed to decide it."""
    refuse_scoped(ctx, what="approval links")
    await authorize(ctx, DECIDE_SCOPE)
    check_ttl(ttl_seconds, maximum=MAX_LINK_SECONDS)
    token = secrets.token_urlsafe(32)
    now = utcnow()
    async with write_session(ctx.sessions) as session:
        approval = await get_approval(session, approval_id)
        task = await get_task(session, approval.task_id) if approval is not None else None
        if approval is None or task is None:
            raise NotFoundError(
                f"approval {approval_id} was not found",
                hint="use an id from Task.approvals or Query.approvals",
            )
        if not visible(ctx, task):
            raise hidden(ctx, task.id, action="approval_link.create")
        check_pending(approval)
        earlier = (await decisions_by_approval_ids(session, [approval.id]))[0]
        check_may_decide(ctx, task, approval, earlier)
        link = ApprovalLink(
            id=uuid.uuid4(),
            approval_id=approval.id,
            task_id=task.id,
            created_by=ctx.principal.user_id,
            creator_subject=ctx.principal.subject,
            creator_roles=list(ctx.principal.roles),
            token_hash=token_hash(token),
            created_at=now,
            expires_at=now + timedelta(seconds=ttl_seconds),
        )
        session.add(link)
        record_audit(
            session,
            actor=ctx.principal.actor,
            action="approval_link.create",
            target=f"task:{task.id}",
            details={
                "linkId": str(link.id),
                "approvalId": str(approval.id),
                "expiresAt": link.expires_at.isoformat(),
            },
            request_id=ctx.request_id,
        )
    return CreatedLink(
        link_id=link.id,
        token=token,
        approval_id=approval.id,
        task_id=task.id,
        expires_at=link.expires_at,
    )


async def revoke_approval_link(ctx: RequestContext, *, link_id: uuid.UUID) -> datetime:
    """End an unused link; only its creator or an admin may. Returns when it was revoked."""
    refuse_scoped(ctx, what="approval links")
    await authorize(ctx, DECIDE_SCOPE)
    async with write_session(ctx.sessions) as session:
        link = await get_link(session, link_id)
        if link is None or not (link.created_by == ctx.principal.user_id or ctx.principal.is_admin):
            raise NotFoundError(f"approval link {link_id} was not found")
        reason = _gone_reason(link, utcnow())
        if reason is not None:
            raise ConflictError(reason, hint="a used, expired or revoked link needs no revoking")
        link.revoked_at = utcnow()
        record_audit(
            session,
            actor=ctx.principal.actor,
            action="approval_link.revoke",
            target=f"task:{link.task_id}",
            details={"linkId": str(link.id), "approvalId": str(link.approval_id)},
            request_id=ctx.request_id,
        )
        return link.revoked_at


async def _usable(ctx: RequestContext, token: str) -> LinkView:
    async with ctx.sessions() as session:
        link = await find_link(session, token)
        if link is None:
            raise NotFoundError(
                "no approval link has this token", hint="check that the whole URL was copied"
            )
        reason = _gone_reason(link, utcnow())
        if reason is not None:
            raise GoneError(reason)
        approval = await get_approval(session, link.approval_id)
        task = await get_task(session, link.task_id)
        if approval is None or task is None:
            raise GoneError("the approval request of this link no longer exists")
        step = await get_step(session, approval.step_id)
    return LinkView(link=link, approval=approval, task=task, step=step)


async def view_approval_link(ctx: RequestContext, *, token: str) -> LinkView:
    """The request a usable link decides; `GONE` once used, expired or revoked. Reading it
    never uses it (chat apps fetch links to preview them)."""
    return await _usable(ctx, token)


def link_principal(link: ApprovalLink) -> Principal:
    """The link's creator as they were when they made it, able to decide only its task."""
    return Principal(
        user_id=link.created_by,
        subject=link.creator_subject,
        roles=tuple(str(r) for r in link.creator_roles),
        scopes=frozenset({DECIDE_SCOPE}),
        via="approval_link",
        task_scope=link.task_id,
        link_id=link.id,
    )


async def decide_by_approval_link(
    ctx: RequestContext,
    *,
    token: str,
    approved: bool,
    message: str | None,
    modified_parameters: Any,
) -> LinkDecision:
    """Decide the link's request as its creator, once: `approve_step`'s rules apply, and
    the link is marked used in the decision's own transaction."""
    view = await _usable(ctx, token)
    if view.approval.status != ApprovalStatus.PENDING:
        raise GoneError(
            f"approval {view.approval.id} is already {view.approval.status}; "
            "this link can no longer decide it"
        )
    as_creator = RequestContext(
        principal=link_principal(view.link), services=ctx.services, request_id=ctx.request_id
    )
    try:
        task = await approve_step(
            as_creator,
            task_id=view.task.id,
            answer=ApprovalAnswer(
                approval_id=view.approval.id,
                approved=approved,
                message=message,
                modified_parameters=modified_parameters,
            ),
        )
    except NotFoundError as error:
        # The creator can no longer see the task (its policy changed hands): say so plainly.
        raise GoneError("the approval request of this link is no longer visible") from error
    if not approved:
        decision = ApprovalStatus.REJECTED
    else:
        decision = (
            ApprovalStatus.MODIFIED if modified_parameters is not None else ApprovalStatus.APPROVED
        )
    return LinkDecision(
        approval_id=view.approval.id,
        decision=str(decision),
        decided_by=as_creator.principal.actor,
        task=task,
    )
