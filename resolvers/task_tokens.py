"""Tokens scoped to one task: what a browser's EventSource or a shared dashboard may hold.

A task token is a JWT signed with the server's key whose `task` and `task_scopes` claims
name the one task and what it may do there (`read`, `approve`). resolvers/access.py
hides every other task from it and resolvers/limits.py refuses anything else it lacks,
so it grants exactly that on every transport (docs/security.md).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from auth.principal import DECIDE_SCOPE
from auth.tokens import TASK_TOKEN_SCOPES, InvalidTokenError, issue_token
from db.engine import write_session
from db.models import Task
from db.repositories.approval_links import pending_approvals_of_task
from db.repositories.audit import record_audit
from engine.approval_policy import ApprovalPolicy
from resolvers.access import load_visible_task
from resolvers.audit import record_denied
from resolvers.context import RequestContext
from resolvers.errors import ForbiddenError, UnavailableError, ValidationFailedError
from resolvers.limits import authorize, require_scope

MAX_TASK_TOKEN_SECONDS = 3600
DEFAULT_TASK_TOKEN_SECONDS = 900


@dataclass(frozen=True, slots=True)
class TaskToken:
    token: str
    task_id: uuid.UUID
    scopes: tuple[str, ...]
    expires_at: datetime


def check_ttl(ttl_seconds: int, *, maximum: int) -> None:
    if not 1 <= ttl_seconds <= maximum:
        raise ValidationFailedError(
            f"ttlSeconds must be from 1 to {maximum}; got {ttl_seconds}", field="ttlSeconds"
        )


def refuse_scoped(ctx: RequestContext, *, what: str) -> None:
    """A task-scoped credential cannot mint another one (it would outlive itself)."""
    if ctx.principal.task_scope is not None:
        record_denied(ctx, action=what, target=None, reason="task-scoped credential")
        raise ForbiddenError(
            f"a credential scoped to one task cannot create {what}",
            hint="use your own token",
        )


def _scopes(scopes: Sequence[str]) -> tuple[str, ...]:
    wanted = tuple(dict.fromkeys(s.strip().lower() for s in scopes))
    unknown = [s for s in wanted if s not in TASK_TOKEN_SCOPES]
    if not wanted or unknown:
        raise ValidationFailedError(
            f"scopes must list one or more of {', '.join(s.upper() for s in TASK_TOKEN_SCOPES)}"
            + (f"; unknown: {', '.join(unknown)}" if unknown else ""),
            field="scopes",
        )
    return wanted


async def check_may_decide_task(ctx: RequestContext, task: Task) -> None:
    """The caller may decide the task's pending approvals (any one of them); with none
    pending, seeing the task is enough: each later decision is judged by its own policy."""
    async with ctx.sessions() as session:
        pending = await pending_approvals_of_task(session, task.id)
    refusals = [
        ApprovalPolicy.from_json(a.policy).refusal(
            user_id=ctx.principal.user_id, roles=ctx.principal.roles, owner_id=task.user_id
        )
        for a in pending
    ]
    if refusals and all(r is not None for r in refusals):
        record_denied(
            ctx, action="task_token.create", target=f"task:{task.id}", reason="not eligible"
        )
        raise ForbiddenError(
            f"you may not decide the approvals of task {task.id}: {refusals[0]}",
            hint="ask for READ only, or ask a person the step's approval policy names",
        )


async def create_task_token(
    ctx: RequestContext,
    *,
    task_id: uuid.UUID,
    scopes: Sequence[str],
    ttl_seconds: int = DEFAULT_TASK_TOKEN_SECONDS,
) -> TaskToken:
    """A JWT granting `scopes` on this one task for `ttl_seconds`; audited, never stored."""
    refuse_scoped(ctx, what="task tokens")
    await authorize(ctx, "tasks:read")
    wanted = _scopes(scopes)
    check_ttl(ttl_seconds, maximum=MAX_TASK_TOKEN_SECONDS)
    if "approve" in wanted:
        require_scope(ctx, DECIDE_SCOPE)
    task = await load_visible_task(ctx, task_id)
    if "approve" in wanted:
        await check_may_decide_task(ctx, task)
    config = ctx.services.tokens
    if config is None:
        raise UnavailableError("this server cannot sign tokens")
    try:
        token = issue_token(
            config,
            subject=ctx.principal.subject,
            roles=list(ctx.principal.roles),
            ttl_seconds=ttl_seconds,
            session_id=ctx.principal.session_id,
            task=(task.id, list(wanted)),
        )
    except InvalidTokenError as error:
        # No HS256 secret: the server only verifies tokens from an identity provider.
        raise UnavailableError(str(error), hint="set AGENTWIRE_JWT_SECRET") from error
    expires_at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=ttl_seconds)
    async with write_session(ctx.sessions) as session:
        record_audit(
            session,
            actor=ctx.principal.actor,
            action="task_token.create",
            target=f"task:{task.id}",
            details={
                "scopes": list(wanted),
                "ttlSeconds": ttl_seconds,
                "expiresAt": expires_at.isoformat(),
            },
            request_id=ctx.request_id,
        )
    return TaskToken(token=token, task_id=task.id, scopes=wanted, expires_at=expires_at)
