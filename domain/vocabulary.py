"""Every status, event type and priority of agentwire, said once (DESIGN.md sections 4 and 5).

Each vocabulary is a `StrEnum`: a member *is* its lower-case string, so it compares
equal to the value stored in the database and sent on REST and the sockets, while a
misspelt member is an attribute error for mypy and at import. The groups the rules ask
about (`TaskStatus.FINISHED`, `StepStatus.OPEN`, ...) are tuples in a fixed order, so a
query built from one renders the same SQL (and hits the same statement cache) in every
process. GraphQL exposes the same classes (schema/scalars.py), spelt by member name
(`AWAITING_APPROVAL`); the database stores the values (db/models.py).

This package imports nothing of ours and everything may import it (the import-linter
contract in pyproject.toml puts it under `db`).
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar, TypeVar

Word = TypeVar("Word", bound=StrEnum)


class TaskStatus(StrEnum):
    """Where a task is in its lifecycle."""

    PENDING = "pending"
    RUNNING = "running"
    AWAITING_APPROVAL = "awaiting_approval"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    ROLLED_BACK = "rolled_back"

    # A task that holds a runner (or a worker's lease) and may still change by itself.
    ACTIVE: ClassVar[tuple[TaskStatus, ...]]
    # Not finished: queued, running or waiting for a person.
    OPEN: ClassVar[tuple[TaskStatus, ...]]
    # Will not run again; the only states from which steps can be undone.
    FINISHED: ClassVar[tuple[TaskStatus, ...]]
    # Ended by the run itself (`finished_at` is set then); ROLLED_BACK comes later, by undo.
    ENDED: ClassVar[tuple[TaskStatus, ...]]


TaskStatus.ACTIVE = (TaskStatus.RUNNING, TaskStatus.AWAITING_APPROVAL)
TaskStatus.OPEN = (TaskStatus.PENDING, *TaskStatus.ACTIVE)
TaskStatus.ENDED = (TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED)
TaskStatus.FINISHED = (*TaskStatus.ENDED, TaskStatus.ROLLED_BACK)


class StepStatus(StrEnum):
    """Where a step is in its lifecycle."""

    PENDING = "pending"
    RUNNING = "running"
    AWAITING_APPROVAL = "awaiting_approval"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"
    ROLLED_BACK = "rolled_back"

    # Not yet done: a runner or worker still has to reach it.
    OPEN: ClassVar[tuple[StepStatus, ...]]
    # Counted as done when the task's progress is measured.
    DONE: ClassVar[tuple[StepStatus, ...]]


StepStatus.OPEN = (StepStatus.PENDING, StepStatus.RUNNING, StepStatus.AWAITING_APPROVAL)
StepStatus.DONE = (StepStatus.COMPLETED, StepStatus.SKIPPED, StepStatus.ROLLED_BACK)


class ApprovalStatus(StrEnum):
    """The outcome of an approval request; `expired` is never recorded as a human rejection."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    MODIFIED = "modified"
    EXPIRED = "expired"
    CANCELLED = "cancelled"

    # A person's answer that lets the step run (MODIFIED: with changed parameters).
    GRANTED: ClassVar[tuple[ApprovalStatus, ...]]
    # What a decision may record (everything but PENDING).
    DECIDED: ClassVar[tuple[ApprovalStatus, ...]]


ApprovalStatus.GRANTED = (ApprovalStatus.APPROVED, ApprovalStatus.MODIFIED)
ApprovalStatus.DECIDED = tuple(s for s in ApprovalStatus if s is not ApprovalStatus.PENDING)


class OnTimeout(StrEnum):
    """What an approval request's expiry does."""

    REJECT = "reject"
    CANCEL = "cancel"
    APPROVE = "approve"


class CancelMode(StrEnum):
    """How a running task is cancelled: at its next checkpoint, or once its step finishes."""

    IMMEDIATE = "immediate"
    AFTER_STEP = "after_step"


class InputPolicy(StrEnum):
    """What input sent to a task that awaits approval does: wait for it, or reject it."""

    QUEUE = "queue"
    REJECT_PENDING = "reject_pending"


class LogLevel(StrEnum):
    """How much a task log line matters."""

    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class Reversibility(StrEnum):
    """Whether a step can be undone."""

    REVERSIBLE = "reversible"
    COMPENSATABLE = "compensatable"
    IRREVERSIBLE = "irreversible"


class EventType(StrEnum):
    """The kind of a task event (DESIGN.md section 5); clients ignore kinds they do not know."""

    STATUS_CHANGE = "status_change"
    STEP_START = "step_start"
    STEP_PROGRESS = "step_progress"
    STEP_COMPLETE = "step_complete"
    ERROR = "error"
    APPROVAL_REQUEST = "approval_request"
    APPROVAL_RESOLVED = "approval_resolved"
    # One person's answer to a request that needs more than one; it stays pending.
    APPROVAL_DECISION = "approval_decision"
    APPROVAL_TIMEOUT = "approval_timeout"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    QUEUE_UPDATE = "queue_update"
    STEP_ROLLED_BACK = "step_rolled_back"
    UNDO_START = "undo_start"
    UNDO_COMPLETE = "undo_complete"
    SNAPSHOT = "snapshot"
    LAGGED = "lagged"
    INPUT = "input"
    # An approved (or input-answered) task made no progress in time (docs/approvals.md).
    STALLED = "stalled"


class EventPriority(StrEnum):
    """Critical events are never dropped or delayed; low ones may be coalesced."""

    CRITICAL = "critical"
    NORMAL = "normal"
    LOW = "low"

    # The event types of each priority other than NORMAL (the default).
    CRITICAL_TYPES: ClassVar[tuple[EventType, ...]]
    LOW_TYPES: ClassVar[tuple[EventType, ...]]

    @classmethod
    def of(cls, event_type: EventType) -> EventPriority:
        """The priority an event of `event_type` is sent with."""
        return _PRIORITY_BY_TYPE.get(event_type, cls.NORMAL)


EventPriority.CRITICAL_TYPES = (
    EventType.STALLED,
    EventType.APPROVAL_REQUEST,
    EventType.APPROVAL_TIMEOUT,
    EventType.ERROR,
    EventType.COMPLETED,
    EventType.CANCELLED,
    EventType.STATUS_CHANGE,
)
EventPriority.LOW_TYPES = (EventType.STEP_PROGRESS, EventType.QUEUE_UPDATE)
_PRIORITY_BY_TYPE = {
    **dict.fromkeys(EventPriority.CRITICAL_TYPES, EventPriority.CRITICAL),
    **dict.fromkeys(EventPriority.LOW_TYPES, EventPriority.LOW),
}


def parse_word(vocabulary: type[Word], value: object) -> Word | None:
    """The member of `vocabulary` whose value is `value`, or None: for checking input.

    (`value in vocabulary` raises TypeError for a non-member on Python 3.11.)
    """
    if not isinstance(value, str):
        return None
    try:
        return vocabulary(value)
    except ValueError:
        return None
