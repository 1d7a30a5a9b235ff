"""Typed results shared by `Client`, `AsyncClient` and the watches."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Task statuses after which a task runs no more steps (an undo may still follow).
FINISHED_STATUSES = frozenset({"COMPLETED", "FAILED", "CANCELLED", "ROLLED_BACK"})


class AgentwireError(Exception):
    """An error from the server; `code` is its extensions.code (e.g. NOT_FOUND)."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        first = errors[0] if errors else {}
        super().__init__(first.get("message", "GraphQL request failed"))
        self.errors = errors
        self.code: str | None = (first.get("extensions") or {}).get("code")

    @classmethod
    def of(cls, code: str, message: str) -> AgentwireError:
        """An error raised by the client itself (a refused socket, a body that is not GraphQL)."""
        return cls([{"message": message, "extensions": {"code": code}}])


@dataclass(frozen=True)
class Task:
    id: str
    task: str
    status: str
    priority: int
    conversation_id: str | None
    created_at: str
    raw: dict[str, Any]

    @classmethod
    def from_graphql(cls, node: dict[str, Any]) -> Task:
        return cls(
            id=node["id"],
            task=node["task"],
            status=node["status"],
            priority=node["priority"],
            conversation_id=node.get("conversationId"),
            created_at=node["createdAt"],
            raw=node,
        )


@dataclass(frozen=True)
class TaskPage:
    tasks: list[Task]
    total_count: int
    has_next_page: bool
    end_cursor: str | None


@dataclass(frozen=True)
class TaskEvent:
    """One event of a task (docs/protocol.md): `type` as the GraphQL enum (`STEP_PROGRESS`),
    `seq` per task (None on ephemeral and control events), `cursor` global and opaque."""

    id: str
    type: str
    seq: int | None
    cursor: str | None
    timestamp: int
    priority: str
    data: dict[str, Any]

    @classmethod
    def from_graphql(cls, node: dict[str, Any]) -> TaskEvent:
        return cls(
            id=node["id"],
            type=node["type"],
            seq=node.get("seq"),
            cursor=node.get("cursor"),
            timestamp=node["timestamp"],
            priority=node["priority"],
            data=node.get("data") or {},
        )

    @property
    def task_id(self) -> str:
        task_id: str = self.data["taskId"]
        return task_id

    @property
    def status(self) -> str | None:
        """The task's status as this event reports it, when it does."""
        status: str | None = self.data.get("status")
        return status

    @property
    def ends_task(self) -> bool:
        """True for the task's last event of a run: COMPLETED, CANCELLED, the status change to
        FAILED, or a SNAPSHOT of a task that has already finished."""
        if self.type in ("COMPLETED", "CANCELLED"):
            return True
        if self.type == "STATUS_CHANGE":
            return self.status == "FAILED"
        if self.type == "SNAPSHOT" and self.task is not None:
            return self.task.get("status") in FINISHED_STATUSES
        return False

    @property
    def approval_request(self) -> dict[str, Any] | None:
        """The approval this event asks for: an APPROVAL_REQUEST's, or the pending one in a
        SNAPSHOT (a watch that starts while the task waits sees no APPROVAL_REQUEST).
        Both carry `id`, `stepId`, `prompt` and `parameters`."""
        if self.type == "APPROVAL_REQUEST":
            request: dict[str, Any] | None = self.data.get("approvalRequest")
            return request
        if self.type == "SNAPSHOT" and self.task is not None:
            pending: dict[str, Any] | None = self.task.get("pendingApproval")
            return pending
        return None

    @property
    def task(self) -> dict[str, Any] | None:
        """The whole task, on a SNAPSHOT."""
        task: dict[str, Any] | None = self.data.get("task")
        return task
