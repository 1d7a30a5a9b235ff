"""GraphQL fields for credentials narrower than a user's: task tokens and approval links."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from resolvers import approval_links, task_tokens
from resolvers.validation import parse_id
from schema.context import Info


@strawberry.enum(description="What a task token may do on its one task.")
class TaskTokenScope(Enum):
    READ = "read"
    APPROVE = "approve"


@strawberry.type(description="A token that grants its scopes on one task, and nothing else.")
class TaskToken:
    token: str = strawberry.field(
        description="The JWT: send it as 'Authorization: Bearer', or as ?access_token= on the "
        "SSE and long-poll routes. Shown once; it is not stored."
    )
    task_id: strawberry.ID = strawberry.field(description="The one task it grants access to.")
    scopes: list[TaskTokenScope] = strawberry.field(description="What it may do there.")
    expires_at: datetime = strawberry.field(description="When it stops working.")


async def create_task_token(
    info: Info,
    task_id: strawberry.ID,
    scopes: list[TaskTokenScope],
    ttl_seconds: int = task_tokens.DEFAULT_TASK_TOKEN_SECONDS,
) -> TaskToken:
    created = await task_tokens.create_task_token(
        info.context.resolver_context(),
        task_id=parse_id(task_id, field="taskId"),
        scopes=[s.value for s in scopes],
        ttl_seconds=ttl_seconds,
    )
    return TaskToken(
        token=created.token,
        task_id=strawberry.ID(str(created.task_id)),
        scopes=[TaskTokenScope(s) for s in created.scopes],
        expires_at=created.expires_at,
    )


CREATE_TASK_TOKEN = strawberry.mutation(
    resolver=create_task_token,
    description="A JWT granting READ (the task, its events, its streams) and/or APPROVE "
    "(deciding its approvals) on this one task for ttlSeconds (1 to 3600, default 900). "
    "Any other task is NOT_FOUND to it, anything else FORBIDDEN (docs/security.md).",
)


@strawberry.type(description="A single-use link that decides one approval request as you.")
class ApprovalLink:
    id: strawberry.ID = strawberry.field(description="Names the link (revokeApprovalLink).")
    url: str = strawberry.field(
        description="GET shows the request (JSON, or a page for a browser); POST "
        "{approved, message, modifiedParameters} decides it once. Shown once; only its "
        "hash is stored."
    )
    approval_id: strawberry.ID = strawberry.field(description="The request it decides.")
    expires_at: datetime = strawberry.field(description="When it stops working.")


def _base_url(info: Info) -> str:
    """This server as the caller reached it (a socket's ws:// becomes http://)."""
    request = info.context.request
    base = str(request.base_url).rstrip("/") if request is not None else ""
    if base.startswith("ws"):
        base = "http" + base[2:]
    return base


async def create_approval_link(
    info: Info,
    approval_id: strawberry.ID,
    ttl_seconds: int = approval_links.DEFAULT_LINK_SECONDS,
) -> ApprovalLink:
    created = await approval_links.create_approval_link(
        info.context.resolver_context(),
        approval_id=parse_id(approval_id, field="approvalId"),
        ttl_seconds=ttl_seconds,
    )
    return ApprovalLink(
        id=strawberry.ID(str(created.link_id)),
        url=f"{_base_url(info)}{approval_links.LINK_PATH}{created.token}",
        approval_id=strawberry.ID(str(created.approval_id)),
        expires_at=created.expires_at,
    )


async def revoke_approval_link(info: Info, link_id: strawberry.ID) -> datetime:
    return await approval_links.revoke_approval_link(
        info.context.resolver_context(), link_id=parse_id(link_id, field="linkId")
    )


CREATE_APPROVAL_LINK = strawberry.mutation(
    resolver=create_approval_link,
    description="A single-use URL that decides this pending request as you, for ttlSeconds "
    "(1 to 604800, default 3600). Only someone who may decide the request may create one; "
    "a used, expired or revoked link answers 410 (docs/approvals.md).",
)
REVOKE_APPROVAL_LINK = strawberry.mutation(
    resolver=revoke_approval_link,
    description="End an unused approval link you created; returns when it was revoked.",
)
