"""The domain vocabulary as GraphQL enums: values spelt by member name (`AWAITING_APPROVAL`).

The classes are domain/vocabulary.py's own: `strawberry.enum` registers them as they
are, so a status read from the database or an event is already a GraphQL enum value,
and there is no second list of statuses to keep in step.
"""

from __future__ import annotations

import strawberry

from domain.vocabulary import (
    ApprovalStatus,
    EventPriority,
    EventType,
    Reversibility,
    StepStatus,
    TaskStatus,
)

__all__ = [
    "ApprovalStatus",
    "EventPriority",
    "Reversibility",
    "StepStatus",
    "TaskEventType",
    "TaskStatus",
]

# GraphQL's name for the event type (the domain's `EventType`).
TaskEventType = EventType

strawberry.enum(TaskStatus, description="Where a task is in its lifecycle.")
strawberry.enum(StepStatus, description="Where a step is in its lifecycle.")
strawberry.enum(ApprovalStatus, description="The outcome of an approval request.")
strawberry.enum(Reversibility, description="Whether a step can be undone.")
strawberry.enum(
    EventType,
    name="TaskEventType",
    description="The kind of a task event. Clients ignore kinds they do not know.",
)
strawberry.enum(
    EventPriority,
    description="Critical events are never dropped; low ones may be coalesced.",
)
