"""GraphQL fields for credentials narrower than a user's: task tokens and approval links."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from resolvers import task_tokens
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
