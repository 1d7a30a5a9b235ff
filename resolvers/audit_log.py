"""Reading a task's audit log: who approved, undid, cancelled or was refused, and when."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from db.models import AuditEntry
from db.repositories.audit import audit_for_target
from resolvers.access import load_visible_task
from resolvers.context import RequestContext
from resolvers.limits import authorize


async def task_audit_log(ctx: RequestContext, *, task_id: uuid.UUID) -> Sequence[AuditEntry]:
    """The audit entries of a task, oldest first: for its owner and admins only."""
    await authorize(ctx, "tasks:read")
    await load_visible_task(ctx, task_id)
    async with ctx.sessions() as session:
        return await audit_for_target(session, f"task:{task_id}")
