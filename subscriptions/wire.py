"""One wire form per object: how a task, a step and an approval request are written out.

Each object's fields are listed once, with how each is computed from its row (ids as
strings, times as ISO 8601 text, statuses as their lower-case values). What each channel
sends is a named selection of them, in the order it has always sent them:

| object   | form               | used by                                                   |
|----------|--------------------|-----------------------------------------------------------|
| step     | `STEP`             | REST (`rest_compat/views.StepView`), every field          |
| step     | `STEP_IN_EVENT`    | `data.step` of every event (engine, worker writes)        |
| step     | `STEP_IN_SNAPSHOT` | `data.task.steps` of SNAPSHOT (SSE, sockets, long-poll)   |
| step     | `STEP_FOR_WORKER`  | a worker's claim (what to run, and what already ran)      |
| approval | `APPROVAL`         | REST (`ApprovalView`)                                     |
| approval | `APPROVAL_IN_EVENT`| `data.approvalRequest` of events, SNAPSHOT, worker acks   |
| task     | `TASK`             | REST (`TaskJson`; the derived fields are added there)     |
| task     | `TASK_IN_SNAPSHOT` | `data.task` of SNAPSHOT (`subscriptions/snapshot.py`)     |

GraphQL selects its own fields from the rows (schema/types.py) and reads events back
through the same keys (schema/events.py). The REST forms are documented by the pydantic
views, which validate these dicts, so the OpenAPI document and the responses agree.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Generic, TypeVar

from db.models import ApprovalRequest, Task, TaskStep

Row = TypeVar("Row")


def iso(moment: datetime | None) -> str | None:
    # The same text GraphQL's DateTime gives, so every transport agrees to the character.
    return moment.isoformat() if moment is not None else None


class Form(Generic[Row]):
    """A selection of an object's wire fields, written in the order given."""

    __slots__ = ("fields",)

    def __init__(self, fields: Mapping[str, Callable[[Row], Any]], *names: str) -> None:
        self.fields = tuple((name, fields[name]) for name in names)

    def __call__(self, row: Row) -> dict[str, Any]:
        return {name: value(row) for name, value in self.fields}


STEP_FIELDS: dict[str, Callable[[TaskStep], Any]] = {
    "id": lambda s: str(s.id),
    "position": lambda s: s.position,
    "name": lambda s: s.name,
    "description": lambda s: s.description,
    "action": lambda s: s.action,
    "params": lambda s: s.params,
    "requiresApproval": lambda s: s.requires_approval,
    "reversibility": lambda s: s.reversibility,
    "status": lambda s: s.status,
    "progress": lambda s: s.progress,
    "result": lambda s: s.result,
    "error": lambda s: s.error,
    "startedAt": lambda s: iso(s.started_at),
    "finishedAt": lambda s: iso(s.finished_at),
}
STEP = Form(STEP_FIELDS, *STEP_FIELDS)
STEP_IN_EVENT = Form(STEP_FIELDS, "id", "name", "position", "action", "status", "progress")
STEP_IN_SNAPSHOT = Form(
    STEP_FIELDS,
    *("id", "name", "position", "action", "status", "progress", "requiresApproval", "result"),
)
STEP_FOR_WORKER = Form(
    STEP_FIELDS,
    *("id", "position", "name", "action", "params", "requiresApproval", "reversibility"),
    *("status", "result"),
)

APPROVAL_FIELDS: dict[str, Callable[[ApprovalRequest], Any]] = {
    "id": lambda a: str(a.id),
    "taskId": lambda a: str(a.task_id),
    "stepId": lambda a: str(a.step_id),
    "status": lambda a: a.status,
    "prompt": lambda a: a.prompt,
    "parameters": lambda a: a.parameters,
    "modifiedParameters": lambda a: a.modified_parameters,
    "onTimeout": lambda a: a.on_timeout,
    "decidedBy": lambda a: a.decided_by,
    # REST has always called the approver's message `decisionMessage`, events `message`.
    "decisionMessage": lambda a: a.decision_message,
    "message": lambda a: a.decision_message,
    "createdAt": lambda a: iso(a.created_at),
    "expiresAt": lambda a: iso(a.expires_at),
    "decidedAt": lambda a: iso(a.decided_at),
    # `{required, roles, allowSelf}`; null: the owner or an admin decides, alone.
    "policy": lambda a: a.policy,
}
APPROVAL = Form(
    APPROVAL_FIELDS,
    *("id", "taskId", "stepId", "status", "prompt", "parameters", "modifiedParameters"),
    *("onTimeout", "decidedBy", "decisionMessage", "createdAt", "expiresAt", "decidedAt"),
)
APPROVAL_IN_EVENT = Form(
    APPROVAL_FIELDS,
    *("id", "stepId", "status", "prompt", "parameters", "modifiedParameters", "onTimeout"),
    *("expiresAt", "decidedBy", "decidedAt", "message", "policy"),
)

TASK_FIELDS: dict[str, Callable[[Task], Any]] = {
    "id": lambda t: str(t.id),
    "task": lambda t: t.task,
    "status": lambda t: t.status,
    "priority": lambda t: t.priority,
    "conversationId": lambda t: t.conversation_id,
    "context": lambda t: t.context,
    "createdAt": lambda t: iso(t.created_at),
    "startedAt": lambda t: iso(t.started_at),
    "finishedAt": lambda t: iso(t.finished_at),
    "artifacts": lambda t: t.artifacts,
    "result": lambda t: t.result,
    "error": lambda t: t.error,
    "lastSeq": lambda t: t.last_seq,
}
TASK = Form(TASK_FIELDS, *TASK_FIELDS)
# A snapshot leaves out `context`, as it always has: what a subscriber is sent stays what
# events carry.
TASK_IN_SNAPSHOT = Form(TASK_FIELDS, *(name for name in TASK_FIELDS if name != "context"))
