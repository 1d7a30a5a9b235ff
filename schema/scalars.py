"""Enums shared by the GraphQL types; values are SCREAMING_CASE, stored values lower case."""

from __future__ import annotations

from enum import Enum

import strawberry


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


@strawberry.enum(description="The kind of a task event. Clients ignore kinds they do not know.")
class TaskEventType(Enum):
    STATUS_CHANGE = "status_change"
    STEP_START = "step_start"
    STEP_PROGRESS = "step_progress"
    STEP_COMPLETE = "step_complete"
    ERROR = "error"
    APPROVAL_REQUEST = "approval_request"
    APPROVAL_RESOLVED = "approval_resolved"
    APPROVAL_TIMEOUT = "approval_timeout"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    QUEUE_UPDATE = "queue_update"
    STEP_ROLLED_BACK = "step_rolled_back"
    UNDO_START = "undo_start"
    UNDO_COMPLETE = "undo_complete"
    SNAPSHOT = "snapshot"
    LAGGED = "lagged"


@strawberry.enum(description="Critical events are never dropped; low ones may be coalesced.")
class EventPriority(Enum):
    CRITICAL = "critical"
    NORMAL = "normal"
    LOW = "low"
