"""One wire form per object: each channel's selection, its exact keys, and REST agreeing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from db.models import ApprovalRequest, Task, TaskStep
from db.repositories.feeds import TaskRows
from domain.vocabulary import ApprovalStatus, OnTimeout, Reversibility, StepStatus, TaskStatus
from rest_compat.views import ApprovalView, StepView, TaskJson
from subscriptions.snapshot import task_json
from subscriptions.wire import (
    APPROVAL,
    APPROVAL_IN_EVENT,
    STEP,
    STEP_FOR_WORKER,
    STEP_IN_EVENT,
    STEP_IN_SNAPSHOT,
    TASK,
)

MOMENT = datetime(2026, 12, 2, 15, 0, 0, 123456, tzinfo=UTC)


def _step() -> TaskStep:
    return TaskStep(
        id=uuid.UUID(int=10),
        task_id=uuid.UUID(int=1),
        position=1,
        name="copy",
        description=None,
        action="wait",
        params={"ms": 5},
        requires_approval=True,
        reversibility=Reversibility.REVERSIBLE,
        status=StepStatus.RUNNING,
        progress=0.5,
        result=None,
        error=None,
        started_at=MOMENT,
        finished_at=None,
    )


def _approval() -> ApprovalRequest:
    return ApprovalRequest(
        id=uuid.UUID(int=20),
        task_id=uuid.UUID(int=1),
        step_id=uuid.UUID(int=10),
        status=ApprovalStatus.MODIFIED,
        prompt="ok?",
        parameters={"ms": 5},
        modified_parameters={"ms": 6},
        on_timeout=OnTimeout.REJECT,
        decided_by="user:ann",
        decision_message="fine",
        created_at=MOMENT,
        expires_at=MOMENT + timedelta(hours=1),
        decided_at=MOMENT,
    )


def test_a_step_in_an_event_is_its_identity_and_progress() -> None:
    assert STEP_IN_EVENT(_step()) == {
        "id": str(uuid.UUID(int=10)),
        "name": "copy",
        "position": 1,
        "action": "wait",
        "status": "running",
        "progress": 0.5,
    }


def test_the_other_step_forms_extend_the_same_fields_in_their_documented_order() -> None:
    step = _step()
    assert list(STEP_IN_SNAPSHOT(step)) == [*STEP_IN_EVENT(step), "requiresApproval", "result"]
    assert list(STEP_FOR_WORKER(step)) == [
        *("id", "position", "name", "action", "params", "requiresApproval", "reversibility"),
        *("status", "result"),
    ]
    full = STEP(step)
    for form in (STEP_IN_EVENT, STEP_IN_SNAPSHOT, STEP_FOR_WORKER):
        assert form(step).items() <= full.items()
    assert full["startedAt"] == "2026-12-02T15:00:00.123456+00:00"


def test_rest_views_are_exactly_the_full_forms() -> None:
    step, approval = _step(), _approval()
    assert StepView.of(step).dump() == STEP(step)
    assert ApprovalView.of(approval).dump() == APPROVAL(approval)
    # Events say `message` where REST says `decisionMessage` (both documented).
    assert APPROVAL_IN_EVENT(approval)["message"] == APPROVAL(approval)["decisionMessage"]
    # The documented REST fields are the wire table, in the same order.
    assert [f.alias for f in StepView.model_fields.values()] == list(STEP(step))
    assert [f.alias for f in ApprovalView.model_fields.values()] == list(APPROVAL(approval))
    task_fields = [f.alias for f in TaskJson.model_fields.values()]
    assert task_fields[: len(TASK.fields)] == [name for name, _ in TASK.fields]


def test_a_snapshot_task_is_the_task_form_without_context_plus_its_children() -> None:
    task = Task(
        id=uuid.UUID(int=1),
        user_id=uuid.UUID(int=9),
        conversation_id=None,
        task="do",
        priority=0,
        context={"secret-ish": True},
        status=TaskStatus.RUNNING,
        error=None,
        result=None,
        artifacts={},
        last_seq=3,
        created_at=MOMENT,
        started_at=MOMENT,
        finished_at=None,
    )
    step, approval = _step(), _approval()
    data = task_json(TaskRows(task=task, steps=[step], approvals=[approval], logs=[]))
    assert "context" not in data
    assert {k: v for k, v in TASK(task).items() if k != "context"}.items() <= data.items()
    assert data["steps"] == [STEP_IN_SNAPSHOT(step)]
    assert data["approvals"] == [APPROVAL_IN_EVENT(approval)]
