"""agentwire events as AG-UI events: one renderer per run (one Server-Sent Events response).

A run is what one AG-UI request streams: `RUN_STARTED`, then the task's events, then one
ending — `RUN_FINISHED` (success, an `interrupt` when a step waits for approval, or
`cancelled`) or `RUN_ERROR`. The renderer keeps the protocol's rules for one run: a step is
finished only if it was started in this run, and every open step is finished before the run
ends. Frames rendered from one agentwire event share its `seq`; only the last of them carries
it as the SSE `id`, so a client that resumes with `Last-Event-ID` never gets half of an event.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ag_ui.core import (
    BaseEvent,
    CustomEvent,
    Interrupt,
    RunErrorEvent,
    RunFinishedCancelledOutcome,
    RunFinishedEvent,
    RunFinishedInterruptOutcome,
    RunFinishedSuccessOutcome,
    RunStartedEvent,
    StateDeltaEvent,
    StateSnapshotEvent,
    StepFinishedEvent,
    StepStartedEvent,
)

from domain.vocabulary import ApprovalStatus, EventType, StepStatus, TaskStatus
from rest_compat.agui_state import state_delta, task_state
from subscriptions.envelope import Event

PROTOCOL_VERSION = "1.0"
APPROVAL_REASON = "approval"

# What has no AG-UI name of its own travels as CUSTOM, under the agentwire type.
_CUSTOM_TYPES = frozenset(
    {
        EventType.UNDO_START,
        EventType.UNDO_COMPLETE,
        EventType.STEP_ROLLED_BACK,
        EventType.LAGGED,
        EventType.APPROVAL_RESOLVED,
        EventType.APPROVAL_TIMEOUT,
        EventType.INPUT,
    }
)


def approval_response_schema(parameters_schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON Schema of a resume payload: the decision, and the step's parameters if changed."""
    return {
        "type": "object",
        "properties": {
            "approved": {"type": "boolean", "description": "true runs the step"},
            "message": {"type": "string", "maxLength": 2000},
            "modifiedParameters": parameters_schema
            or {"type": "object", "description": "the step's parameters, changed"},
        },
        "required": ["approved"],
        "additionalProperties": False,
    }


ParameterSchemas = dict[str, dict[str, Any]]
"""The declared parameter schema of each action of the task's executor."""


def interrupt_for(
    approval: dict[str, Any], step: dict[str, Any] | None, schemas: ParameterSchemas
) -> Interrupt:
    """An approval request as an AG-UI interrupt: `id` is the approval's id, and the answer's
    `modifiedParameters` follow the step's declared parameter schema."""
    action = (step or {}).get("action")
    return Interrupt(
        id=approval["id"],
        reason=APPROVAL_REASON,
        message=approval.get("prompt"),
        response_schema=approval_response_schema(schemas.get(str(action))),
        expires_at=approval.get("expiresAt"),
        metadata={
            "stepId": approval.get("stepId"),
            "step": step,
            "parameters": approval.get("parameters"),
            "onTimeout": approval.get("onTimeout"),
        },
    )


@dataclass(frozen=True, slots=True)
class Frame:
    """One SSE message: an AG-UI event and, on the last frame of an agentwire event, its seq."""

    event: BaseEvent
    seq: int | None = None

    def encode(self) -> bytes:
        head = f"id: {self.seq}\n" if self.seq is not None else ""
        body = self.event.model_dump_json(by_alias=True, exclude_none=True)
        return f"{head}data: {body}\n\n".encode()


def _with_seq(frames: list[Frame], seq: int | None) -> list[Frame]:
    if frames and seq is not None:
        frames[-1] = Frame(frames[-1].event, seq)
    return frames


def _step_name(step: dict[str, Any]) -> str:
    """Unique within a task, readable in a UI: '2. send the mail'."""
    return f"{int(step.get('position', 0)) + 1}. {step.get('name', '')}"


class RunRenderer:
    """Turns one run's agentwire events into AG-UI frames, keeping AG-UI's ordering rules."""

    def __init__(self, *, thread_id: str, run_id: str | None = None) -> None:
        self.thread_id = thread_id
        # Set once the run knows its task's executor; used for interrupts' response schemas.
        self.parameter_schemas: ParameterSchemas = {}
        self.run_id = run_id or str(uuid.uuid4())
        self.ended = False
        self._open_steps: dict[str, str] = {}
        self._steps: dict[str, dict[str, Any]] = {}
        self._error: dict[str, Any] | None = None
        self._result: Any = None

    def started(self) -> list[Frame]:
        return [
            Frame(
                RunStartedEvent(
                    thread_id=self.thread_id,
                    run_id=self.run_id,
                    protocol_version=PROTOCOL_VERSION,
                )
            )
        ]

    def snapshot(self, snapshot: Event) -> list[Frame]:
        """STATE_SNAPSHOT of the task as of the snapshot's seq; ends the run if it is paused
        or finished."""
        task = snapshot.data["task"]
        state = task_state(task)
        self._remember(state)
        frames = [Frame(StateSnapshotEvent(snapshot=state), snapshot.seq)]
        frames.extend(self.end_for_state(state))
        return frames

    def end_for_state(self, state: dict[str, Any]) -> list[Frame]:
        """The ending the task's current status calls for; none while it pends or runs."""
        status = state["status"]
        if status == TaskStatus.AWAITING_APPROVAL:
            pending = [
                a for a in state["approvals"].values() if a.get("status") == ApprovalStatus.PENDING
            ]
            if pending:
                steps = {step["id"]: step for step in state["steps"]}
                return self._finish(
                    RunFinishedInterruptOutcome(
                        interrupts=[
                            interrupt_for(a, steps.get(a.get("stepId")), self.parameter_schemas)
                            for a in pending
                        ]
                    )
                )
        if status in (TaskStatus.COMPLETED, TaskStatus.ROLLED_BACK):
            return self._finish(RunFinishedSuccessOutcome(), result=state.get("result"))
        if status == TaskStatus.CANCELLED:
            return self._finish(RunFinishedCancelledOutcome())
        if status == TaskStatus.FAILED:
            return self._fail(state.get("error"))
        return []

    def render(self, event: Event, *, is_pending: Callable[[str], bool]) -> list[Frame]:
        """The frames of one agentwire event. `is_pending(approval_id)` says whether an
        approval request still waits (a replayed request that was since answered is no
        interrupt)."""
        if self.ended:
            return []
        frames: list[Frame] = []
        step = event.data.get("step") if isinstance(event.data.get("step"), dict) else None
        if step is not None and "position" in step:
            self._steps[step["id"]] = step
        delta = state_delta(event)
        if event.type is EventType.STEP_START and step is not None:
            name = _step_name(step)
            self._open_steps[step["id"]] = name
            frames.append(Frame(StepStartedEvent(step_name=name)))
        if delta:
            frames.append(Frame(StateDeltaEvent(delta=delta)))
        if event.type in _CUSTOM_TYPES:
            frames.append(Frame(CustomEvent(name=event.type.value, value=event.data)))
        if step is not None and step.get("status") not in (
            StepStatus.RUNNING,
            StepStatus.PENDING,
            None,
        ):
            frames.extend(self._finish_step(step["id"]))
        frames.extend(self._ending(event, is_pending))
        return _with_seq(frames, event.seq)

    def _ending(self, event: Event, is_pending: Callable[[str], bool]) -> list[Frame]:
        data = event.data
        if event.type is EventType.ERROR and isinstance(data.get("error"), dict):
            self._error = data["error"]
        if event.type is EventType.APPROVAL_REQUEST:
            approval = data.get("approvalRequest") or {}
            if is_pending(str(approval.get("id"))):
                step_data = data.get("step")
                interrupt = interrupt_for(
                    approval,
                    step_data if isinstance(step_data, dict) else None,
                    self.parameter_schemas,
                )
                return self._finish(RunFinishedInterruptOutcome(interrupts=[interrupt]))
        if event.type is EventType.COMPLETED:
            return self._finish(RunFinishedSuccessOutcome(), result=data.get("result"))
        if event.type is EventType.CANCELLED:
            return self._finish(RunFinishedCancelledOutcome())
        if event.type is EventType.STATUS_CHANGE and data.get("status") == TaskStatus.FAILED:
            return self._fail(self._error)
        if event.type is EventType.STATUS_CHANGE and data.get("status") == TaskStatus.ROLLED_BACK:
            return self._finish(RunFinishedSuccessOutcome(), result=self._result)
        return []

    def _remember(self, state: dict[str, Any]) -> None:
        for step in state["steps"]:
            self._steps[step["id"]] = step
        self._error = state.get("error")
        self._result = state.get("result")

    def _finish_step(self, step_id: str) -> list[Frame]:
        name = self._open_steps.pop(step_id, None)
        return [] if name is None else [Frame(StepFinishedEvent(step_name=name))]

    def _close_steps(self) -> list[Frame]:
        frames: list[Frame] = []
        for step_id in list(self._open_steps):
            frames.extend(self._finish_step(step_id))
        return frames

    def _finish(
        self,
        outcome: RunFinishedSuccessOutcome
        | RunFinishedInterruptOutcome
        | RunFinishedCancelledOutcome,
        *,
        result: Any = None,
    ) -> list[Frame]:
        frames = self._close_steps()
        frames.append(
            Frame(
                RunFinishedEvent(
                    thread_id=self.thread_id,
                    run_id=self.run_id,
                    outcome=outcome,
                    result=result if isinstance(outcome, RunFinishedSuccessOutcome) else None,
                )
            )
        )
        self.ended = True
        return frames

    def _fail(self, error: dict[str, Any] | None) -> list[Frame]:
        frames = self._close_steps()
        error = error or {}
        frames.append(
            Frame(
                RunErrorEvent(
                    message=str(error.get("message") or "the task failed"),
                    code=str(error.get("code") or "TASK_FAILED"),
                )
            )
        )
        self.ended = True
        return frames
