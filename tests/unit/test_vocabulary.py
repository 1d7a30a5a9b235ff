"""The one domain vocabulary: the values on the wire and in the database, and its groups."""

from __future__ import annotations

import pytest
from sqlalchemy.dialects import sqlite

from db.models import Task
from domain.vocabulary import (
    ApprovalStatus,
    EventPriority,
    EventType,
    OnTimeout,
    Reversibility,
    StepStatus,
    TaskStatus,
)


def test_statuses_are_the_lower_case_words_of_design_section_4() -> None:
    assert [s.value for s in TaskStatus] == [
        "pending",
        "running",
        "awaiting_approval",
        "completed",
        "failed",
        "cancelled",
        "rolled_back",
    ]
    assert [s.value for s in StepStatus] == [
        "pending",
        "running",
        "awaiting_approval",
        "completed",
        "failed",
        "skipped",
        "cancelled",
        "rolled_back",
    ]
    assert [s.value for s in ApprovalStatus] == [
        "pending",
        "approved",
        "rejected",
        "modified",
        "expired",
        "cancelled",
    ]
    assert [o.value for o in OnTimeout] == ["reject", "cancel", "approve"]
    assert [r.value for r in Reversibility] == ["reversible", "compensatable", "irreversible"]


def test_a_member_is_its_string_so_stored_and_sent_values_do_not_change() -> None:
    assert TaskStatus.AWAITING_APPROVAL == "awaiting_approval"
    assert f"{StepStatus.ROLLED_BACK}" == "rolled_back"
    assert {"pending": 1}[ApprovalStatus.PENDING] == 1
    assert TaskStatus("completed") is TaskStatus.COMPLETED


def test_groups_partition_the_task_lifecycle() -> None:
    assert TaskStatus.ACTIVE == (TaskStatus.RUNNING, TaskStatus.AWAITING_APPROVAL)
    assert TaskStatus.OPEN == (TaskStatus.PENDING, TaskStatus.RUNNING, TaskStatus.AWAITING_APPROVAL)
    assert TaskStatus.FINISHED == (
        TaskStatus.COMPLETED,
        TaskStatus.FAILED,
        TaskStatus.CANCELLED,
        TaskStatus.ROLLED_BACK,
    )
    assert set(TaskStatus.OPEN) | set(TaskStatus.FINISHED) == set(TaskStatus)
    assert not set(TaskStatus.OPEN) & set(TaskStatus.FINISHED)
    assert set(TaskStatus.ENDED) == set(TaskStatus.FINISHED) - {TaskStatus.ROLLED_BACK}
    assert not set(StepStatus.OPEN) & set(StepStatus.DONE)
    assert ApprovalStatus.GRANTED == (ApprovalStatus.APPROVED, ApprovalStatus.MODIFIED)
    assert ApprovalStatus.PENDING not in ApprovalStatus.DECIDED
    assert len(ApprovalStatus.DECIDED) == len(ApprovalStatus) - 1


def test_groups_are_not_members() -> None:
    assert "FINISHED" not in TaskStatus.__members__
    assert "CRITICAL_TYPES" not in EventPriority.__members__
    assert len(EventPriority) == 3


def test_event_priorities_follow_design_section_5() -> None:
    critical = {t for t in EventType if EventPriority.of(t) is EventPriority.CRITICAL}
    low = {t for t in EventType if EventPriority.of(t) is EventPriority.LOW}
    assert critical == {
        # DESIGN.md section 5's list, and the stall alarm, which issue 15 makes CRITICAL
        EventType.STALLED,
        EventType.APPROVAL_REQUEST,
        EventType.APPROVAL_TIMEOUT,
        EventType.ERROR,
        EventType.COMPLETED,
        EventType.CANCELLED,
        EventType.STATUS_CHANGE,
    }
    assert low == {EventType.STEP_PROGRESS, EventType.QUEUE_UPDATE}
    assert EventPriority.of(EventType.STEP_START) is EventPriority.NORMAL


def test_a_column_typed_with_a_vocabulary_refuses_a_misspelt_value_and_reads_members() -> None:
    column_type = Task.__table__.c.status.type
    dialect = sqlite.dialect()
    assert column_type.process_bind_param(TaskStatus.RUNNING, dialect) == "running"
    assert column_type.process_bind_param("awaiting_approval", dialect) == "awaiting_approval"
    assert column_type.process_result_value("rolled_back", dialect) is TaskStatus.ROLLED_BACK
    with pytest.raises(ValueError, match="runing"):
        column_type.process_bind_param("runing", dialect)
