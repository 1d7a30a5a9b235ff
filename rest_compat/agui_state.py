"""The AG-UI view of a task: the state a STATE_SNAPSHOT carries and the patches that move it.

Every patch is a list of RFC 6902 `add` operations on object members (`add` sets a member
whether or not it exists), so it applies to any state of the same shape: a client that
resumes with `Last-Event-ID` can apply the deltas that follow to the state it already has.
Steps are an array in plan order (index = `position`); approvals are an object keyed by id.
"""

from __future__ import annotations

from typing import Any

from domain.vocabulary import EventType
from subscriptions.envelope import Event

JsonPatch = list[dict[str, Any]]

# The task fields a status-carrying event may change.
_STATUS_EVENTS = (EventType.STATUS_CHANGE, EventType.COMPLETED, EventType.CANCELLED)


def task_state(task: dict[str, Any]) -> dict[str, Any]:
    """The state of a snapshot's task (`subscriptions.snapshot.task_json`) as AG-UI shows it."""
    return {
        "taskId": task["id"],
        "task": task["task"],
        "status": task["status"],
        "priority": task["priority"],
        "conversationId": task["conversationId"],
        "createdAt": task["createdAt"],
        "startedAt": task["startedAt"],
        "finishedAt": task["finishedAt"],
        "artifacts": task["artifacts"] or {},
        "result": task["result"],
        "error": task["error"],
        "lastSeq": task["lastSeq"],
        "queuePosition": None,
        "estimatedWaitTime": None,
        "steps": list(task["steps"]),
        "approvals": {approval["id"]: approval for approval in task["approvals"]},
    }


def _set(path: str, value: Any) -> dict[str, Any]:
    return {"op": "add", "path": path, "value": value}


def _pointer(token: str) -> str:
    """One RFC 6901 reference token."""
    return token.replace("~", "~0").replace("/", "~1")


def _step_ops(step: dict[str, Any]) -> JsonPatch:
    position = step.get("position")
    if not isinstance(position, int):
        return []
    base = f"/steps/{position}"
    return [_set(f"{base}/{key}", step[key]) for key in ("status", "progress") if key in step]


def state_delta(event: Event) -> JsonPatch:
    """The change `event` makes to the task's state (empty when it changes none of it)."""
    data = event.data
    ops: JsonPatch = []
    if event.type in _STATUS_EVENTS and "status" in data:
        ops.append(_set("/status", data["status"]))
    if event.type is EventType.COMPLETED and "result" in data:
        ops.append(_set("/result", data["result"]))
        artifacts = (data["result"] or {}).get("artifacts")
        if isinstance(artifacts, dict):
            ops.append(_set("/artifacts", artifacts))
    if event.type is EventType.ERROR and "error" in data:
        ops.append(_set("/error", data["error"]))
    if event.type is EventType.QUEUE_UPDATE:
        ops.append(_set("/queuePosition", data.get("queuePosition")))
        ops.append(_set("/estimatedWaitTime", data.get("estimatedWaitTime")))
    step = data.get("step")
    if isinstance(step, dict):
        ops.extend(_step_ops(step))
        if event.type is EventType.STEP_COMPLETE and "result" in data and "position" in step:
            ops.append(_set(f"/steps/{step['position']}/result", data["result"]))
    approval = data.get("approvalRequest")
    if isinstance(approval, dict) and isinstance(approval.get("id"), str):
        ops.append(_set(f"/approvals/{_pointer(approval['id'])}", approval))
    if ops and event.seq is not None:
        ops.append(_set("/lastSeq", event.seq))
    return ops
