"""SQLAlchemy 2.0 models: the durable truth of agentwire (DESIGN.md section 3)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from domain.vocabulary import (
    ApprovalStatus,
    CancelMode,
    EventPriority,
    EventType,
    LogLevel,
    OnTimeout,
    Reversibility,
    StepStatus,
    TaskStatus,
)

JsonValue = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware UTC datetime")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


Word = TypeVar("Word", bound=StrEnum)


class Vocabulary(TypeDecorator[Word]):
    """A domain `StrEnum` stored as its value in a VARCHAR (the migrations' type).

    Rows read back hold the member, and a value outside the vocabulary is refused before
    it reaches the database (ValueError), in a write and in a query alike.
    """

    impl = String
    cache_ok = True

    def __init__(self, enum: type[Word], length: int = 32) -> None:
        super().__init__(length)
        self.enum = enum

    def process_bind_param(self, value: Word | str | None, dialect: Dialect) -> str | None:
        return None if value is None else self.enum(value).value

    def process_result_value(self, value: str | None, dialect: Dialect) -> Word | None:
        return None if value is None else self.enum(value)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JsonValue, list[Any]: JsonValue, Any: JsonValue}


class User(Base):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    subject: Mapped[str] = mapped_column(String(255), unique=True)
    display_name: Mapped[str] = mapped_column(String(255))
    # The roles of the last token seen for this subject: a record for operators, never a
    # source of rights (a request's roles are its credential's; see auth/authenticate.py).
    roles: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    prefix: Mapped[str] = mapped_column(String(32), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[Any]] = mapped_column(default=list)
    # Set by the operator (`agentwire apikey create --admin`), never by a token: a key's
    # rights must not follow whatever credential its user presented last.
    roles: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Executor(Base):
    """An execution engine's declaration: its actions, their parameter schemas and how far
    each can be undone. Owned by the user whose worker key first registered it."""

    __tablename__ = "executors"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    actions: Mapped[list[Any]] = mapped_column(default=list)
    # Bumped on every re-registration: compiled schemas are cached per (name, version).
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApiSession(Base):
    __tablename__ = "api_sessions"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    session_token: Mapped[str] = mapped_column(String(255), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebSocketConnection(Base):
    __tablename__ = "websocket_connections"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    connection_id: Mapped[str] = mapped_column(String(255), unique=True)
    task_ids: Mapped[list[Any]] = mapped_column(default=list)
    last_heartbeat: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ResumePosition(Base):
    """Where a graphql-transport-ws subscription of a client that sent `resumeKey` stands:
    the last `seq` (or global cursor) delivered to operation `operation_id`."""

    __tablename__ = "resume_positions"
    __table_args__ = (Index("ix_resume_positions_updated", "updated_at"),)

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    resume_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    operation_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    # What the operation followed: "taskUpdates:<task id>" or "myTaskUpdates".
    target: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Task(Base):
    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_user_created", "user_id", text("created_at DESC")),
        Index("ix_tasks_queue", "status", text("priority DESC"), "created_at"),
        Index("ix_tasks_user_status", "user_id", "status"),
        Index("ux_tasks_user_idempotency", "user_id", "idempotency_key", unique=True),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    conversation_id: Mapped[str | None] = mapped_column(String(255), index=True)
    task: Mapped[str] = mapped_column(Text)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)
    executor: Mapped[str] = mapped_column(String(64), default="builtin")
    status: Mapped[TaskStatus] = mapped_column(Vocabulary(TaskStatus), default=TaskStatus.PENDING)
    error: Mapped[dict[str, Any] | None] = mapped_column(JsonValue)
    result: Mapped[Any | None] = mapped_column(JsonValue)
    artifacts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    # Input sent to the task (`sendInput`), oldest first: `[{id, input, sentBy, sentAt}]`.
    inputs: Mapped[list[Any] | None] = mapped_column(JsonValue)
    # The roles named by its steps' approval policies: people holding one may read the task
    # (and decide its approvals), nothing more (docs/approvals.md).
    reviewer_roles: Mapped[list[Any] | None] = mapped_column(JsonValue)
    # Set when a decision or input should make the task move: if nothing moves by then, the
    # task is flagged `stalled_since` with a STALLED event; any progress clears both.
    resume_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    stalled_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # `immediate` (stop at the next checkpoint) or `after_step` (finish the running step).
    cancel_mode: Mapped[CancelMode | None] = mapped_column(Vocabulary(CancelMode, 16))
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # A worker's lease (issue 12): the secret its writes carry, and the last write sequence
    # applied under it, so a retried write is acknowledged without being applied twice.
    lease_token: Mapped[str | None] = mapped_column(String(64))
    lease_sequence: Mapped[int] = mapped_column(BigInteger, default=0)
    # An undo queued for the worker of a remote executor (issue 12): the ids of the steps to
    # roll back, newest first; null when none is queued or running.
    # (SQL NULL, not JSON null, when cleared: the claim looks for the rows that have one.)
    undo_step_ids: Mapped[list[Any] | None] = mapped_column(
        JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")
    )
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TaskStep(Base):
    __tablename__ = "task_steps"
    __table_args__ = (Index("ux_task_steps_position", "task_id", "position", unique=True),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    requires_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    # `{required, roles, allowSelf}` when the step declared an approval policy.
    approval_policy: Mapped[dict[str, Any] | None] = mapped_column(JsonValue)
    reversibility: Mapped[Reversibility] = mapped_column(
        Vocabulary(Reversibility), default=Reversibility.REVERSIBLE
    )
    status: Mapped[StepStatus] = mapped_column(Vocabulary(StepStatus), default=StepStatus.PENDING)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    result: Mapped[Any | None] = mapped_column(JsonValue)
    rollback: Mapped[dict[str, Any] | None] = mapped_column(JsonValue)
    error: Mapped[dict[str, Any] | None] = mapped_column(JsonValue)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TaskLog(Base):
    __tablename__ = "task_logs"
    __table_args__ = (Index("ix_task_logs_task_created", "task_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    step_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("task_steps.id", ondelete="CASCADE"), index=True
    )
    level: Mapped[LogLevel] = mapped_column(Vocabulary(LogLevel, 16), default=LogLevel.INFO)
    message: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any] | None] = mapped_column(JsonValue)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApprovalRequest(Base):
    __tablename__ = "approval_requests"
    __table_args__ = (Index("ix_approval_requests_task", "task_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    step_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("task_steps.id", ondelete="CASCADE"), index=True
    )
    batch_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    status: Mapped[ApprovalStatus] = mapped_column(
        Vocabulary(ApprovalStatus), default=ApprovalStatus.PENDING, index=True
    )
    prompt: Mapped[str] = mapped_column(Text)
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    modified_parameters: Mapped[dict[str, Any] | None] = mapped_column(JsonValue)
    on_timeout: Mapped[OnTimeout] = mapped_column(
        Vocabulary(OnTimeout, 16), default=OnTimeout.REJECT
    )
    decided_by: Mapped[str | None] = mapped_column(String(255))
    decision_message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A worker's own key for the request: a repeat with it returns this request.
    dedupe_key: Mapped[str | None] = mapped_column(String(255))
    # The policy it was opened under (`{required, roles, allowSelf}`); None is the default one.
    policy: Mapped[dict[str, Any] | None] = mapped_column(JsonValue)


class ApprovalBatch(Base):
    """A batch answered with an idempotency key: a repeat returns these outcomes."""

    __tablename__ = "approval_batches"
    __table_args__ = (Index("ux_approval_batches_key", "user_id", "idempotency_key", unique=True),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    atomic: Mapped[bool] = mapped_column(Boolean, default=True)
    # `[{approvalId, taskId, error: {code, message} | null}]`; null while being applied.
    outcomes: Mapped[list[Any] | None] = mapped_column(JsonValue)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApprovalDecision(Base):
    """One person's answer to an approval request; a request may need several."""

    __tablename__ = "approval_decisions"
    __table_args__ = (Index("ux_approval_decisions_by", "approval_id", "decided_by", unique=True),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    approval_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("approval_requests.id", ondelete="CASCADE")
    )
    decided_by: Mapped[str] = mapped_column(String(255))
    decision: Mapped[str] = mapped_column(String(32))
    message: Mapped[str | None] = mapped_column(Text)
    parameters_before: Mapped[dict[str, Any] | None] = mapped_column(JsonValue)
    parameters_after: Mapped[dict[str, Any] | None] = mapped_column(JsonValue)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApprovalLink(Base):
    """A single-use link that decides one approval request as the person who made it."""

    __tablename__ = "approval_links"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    approval_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("approval_requests.id", ondelete="CASCADE"), index=True
    )
    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    created_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # The creator as they were then: the link decides with these roles, not later ones.
    creator_subject: Mapped[str] = mapped_column(String(255))
    creator_roles: Mapped[list[Any]] = mapped_column(default=list)
    # sha256 of the token: the plain token is in the URL handed out once, never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TaskEvent(Base):
    __tablename__ = "task_events"
    __table_args__ = (
        Index("ix_task_events_created", "created_at"),
        Index("ux_task_events_global_seq", "global_seq", unique=True),
        Index("ix_task_events_user_global_seq", "user_id", "global_seq"),
        # The rows a numbering pass still has to number (db/event_log.py).
        Index(
            "ix_task_events_unpositioned",
            "task_id",
            "seq",
            postgresql_where=text("global_seq IS NULL"),
            sqlite_where=text("global_seq IS NULL"),
        ),
    )

    task_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[str] = mapped_column(String(32), unique=True)
    type: Mapped[EventType] = mapped_column(Vocabulary(EventType))
    priority: Mapped[EventPriority] = mapped_column(Vocabulary(EventPriority, 16))
    data: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The task owner, copied so a user's feed reads one index (myTaskUpdates).
    user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    # Commit-ordered position across every task: the opaque `cursor` of myTaskUpdates.
    # Assigned just after commit by a numbering pass (PostgreSQL) or at flush (SQLite),
    # under the event_log_counter row lock (db/event_log.py).
    global_seq: Mapped[int | None] = mapped_column(BigInteger)


class EventLogCounter(Base):
    """One row: the last global_seq handed out; its row lock orders the numbering passes."""

    __tablename__ = "event_log_counter"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_target", "target", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    actor: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(255))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    request_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
