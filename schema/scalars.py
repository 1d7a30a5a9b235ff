"""Enums shared by the GraphQL types; values are SCREAMING_CASE, stored values lower case."""

from __future__ import annotations

from enum import Enum
from typing import TypeAlias

import strawberry

from subscriptions.envelope import EventPriority as DomainEventPriority
from subscriptions.envelope import EventType


@strawberry.enum(description="Where a task is in its lifecycle.")
class TaskStatus(Enum):
    PENDING = "pending"
    RUNNING = "running"
    AWAITING_APPROVAL = "awaiting_approval"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    ROLLED_BACK = "rolled_back"


@strawberry.enum(description="Where a step is in its lifecycle.")
class StepStatus(Enum):
    PENDING = "pending"
    RUNNING = "running"
    AWAITING_APPROVAL = "awaiting_approval"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"
    ROLLED_BACK = "rolled_back"


@strawberry.enum(description="The outcome of an approval request.")
class ApprovalStatus(Enum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    MODIFIED = "modified"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


@strawberry.enum(description="Whether a step can be undone.")
class Reversibility(Enum):
    REVERSIBLE = "reversible"
    COMPENSATABLE = "compensatable"
    IRREVERSIBLE = "irreversible"


# The domain enums, exposed as they are: GraphQL spells their member names.
# strawberry.enum registers the class itself, so the aliases stay valid types.
TaskEventType: TypeAlias = EventType
EventPriority: TypeAlias = DomainEventPriority
strawberry.enum(
    EventType,
    name="TaskEventType",
    description="The kind of a task event. Clients ignore kinds they do not know.",
)
strawberry.enum(
    DomainEventPriority,
    name="EventPriority",
    description="Critical events are never dropped; low ones may be coalesced.",
)
