"""The audit log as GraphQL sees it."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from db import models


@strawberry.type(description="One audited action: who did what to which object, and when.")
class AuditEntry:
    id: strawberry.ID = strawberry.field(description="The entry id.")
    actor: str = strawberry.field(description="Who acted, e.g. `user:alice` or `operator:cli`.")
    action: str = strawberry.field(
        description="What happened, e.g. `approval.approved`, `task.undo`, `access.denied`."
    )
    target: str | None = strawberry.field(description="What it was done to, e.g. `task:<id>`.")
    details: JSON = strawberry.field(description="Particulars of the action.")
    request_id: str | None = strawberry.field(description="The X-Request-ID of the request.")
    created_at: datetime = strawberry.field(description="When it happened.")

    @classmethod
    def from_model(cls, row: models.AuditEntry) -> AuditEntry:
        return cls(
            id=strawberry.ID(str(row.id)),
            actor=row.actor,
            action=row.action,
            target=row.target,
            details=JSON(row.details),
            request_id=row.request_id,
            created_at=row.created_at,
        )
