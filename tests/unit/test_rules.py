"""Lifecycle rules that need no database: scheduling, undo plans, input checks, media types."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from db.models import Task, TaskStep
from engine.rollback import UndoRefusedError, plan_undo
from engine.scheduler import Limits, choose, estimated_wait_seconds
from resolvers.errors import ValidationFailedError
from resolvers.validation import check_json_object, check_priority, clean_text, parse_id
from schema.view import preferred_media_type

ALICE, BOB = uuid.uuid4(), uuid.uuid4()
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def task(user: uuid.UUID, minute: int, priority: int = 0) -> Task:
    return Task(
        id=uuid.uuid4(), user_id=user, priority=priority, created_at=T0 + timedelta(minutes=minute)
    )


def step(
    position: int, status: str, *, reversibility: str = "reversible", rollback: Any = None
) -> TaskStep:
    return TaskStep(
        id=uuid.uuid4(),
        position=position,
        name=f"s{position}",
        status=status,
        reversibility=reversibility,
        rollback={} if rollback is None else rollback,
    )


def test_scheduler_takes_queue_order_within_the_global_limit() -> None:
    queue = [task(ALICE, 0), task(BOB, 1), task(ALICE, 2)]
    chosen = choose(
        queue, running=1, per_user={}, limits=Limits(max_running=3, max_running_per_user=5)
    )
    assert chosen == queue[:2]


def test_scheduler_skips_a_user_at_their_limit_but_serves_others() -> None:
    queue = [task(ALICE, 0), task(ALICE, 1), task(BOB, 2)]
    chosen = choose(
        queue, running=1, per_user={ALICE: 1}, limits=Limits(max_running=4, max_running_per_user=2)
    )
    assert chosen == [queue[0], queue[2]]


def test_scheduler_starts_nothing_when_all_slots_are_taken() -> None:
    chosen = choose([task(ALICE, 0)], running=4, per_user={}, limits=Limits(4, 2))
    assert chosen == []


def test_estimated_wait_is_position_times_average_over_slots() -> None:
    assert estimated_wait_seconds(3, average_run_seconds=10.0, slots=4) == 7.5
    assert estimated_wait_seconds(1, average_run_seconds=2.0, slots=0) == 2.0


def test_undo_plan_is_newest_first_down_to_the_named_step() -> None:
    steps = [step(0, "completed"), step(1, "completed"), step(2, "completed")]
    plan = plan_undo("completed", steps, steps[1].id)
    assert plan.step_ids == [steps[2].id, steps[1].id]


def test_undo_plan_defaults_to_the_last_completed_step() -> None:
    steps = [step(0, "completed"), step(1, "completed"), step(2, "skipped")]
    assert plan_undo("completed", steps, None).step_ids == [steps[1].id]


@pytest.mark.parametrize("status", ["pending", "running", "awaiting_approval"])
def test_undo_refuses_a_task_that_is_not_finished(status: str) -> None:
    with pytest.raises(UndoRefusedError) as error:
        plan_undo(status, [step(0, "completed")], None)
    assert error.value.reason == f"the task is {status}; only a finished task can be undone"


def test_undo_refuses_when_a_step_in_the_plan_cannot_be_rolled_back() -> None:
    steps = [step(0, "completed"), step(1, "completed", reversibility="irreversible")]
    with pytest.raises(UndoRefusedError) as error:
        plan_undo("completed", steps, steps[0].id)
    assert "'s1' cannot be rolled back" in error.value.reason


def test_undo_names_a_step_of_another_task_as_not_found() -> None:
    with pytest.raises(UndoRefusedError) as error:
        plan_undo("completed", [step(0, "completed")], uuid.uuid4())
    assert error.value.not_found


def test_undo_refuses_a_step_that_did_not_complete() -> None:
    steps = [step(0, "completed"), step(1, "skipped")]
    with pytest.raises(UndoRefusedError) as error:
        plan_undo("completed", steps, steps[1].id)
    assert error.value.reason == "step 's1' is skipped, not completed"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "task must not be empty"),
        ("   ", "task must not be empty"),
        ("a" * 10_001, "task is 10001 characters long; the limit is 10000"),
        ("bad\x00byte", "task contains control characters"),
        ("bell\x07", "task contains control characters"),
    ],
)
def test_task_text_rules(value: str, message: str) -> None:
    with pytest.raises(ValidationFailedError) as error:
        clean_text(value, field="task", max_chars=10_000, required=True)
    assert error.value.message == message
    assert error.value.field == "task"


def test_task_text_keeps_newlines_and_tabs_and_trims() -> None:
    assert clean_text("  a\tb\nc  ", field="task", max_chars=100, required=True) == "a\tb\nc"


def test_context_over_64_kib_is_refused() -> None:
    with pytest.raises(ValidationFailedError) as error:
        check_json_object({"blob": "x" * 70_000}, field="context", max_bytes=64 * 1024)
    assert "the limit is 65536 bytes" in error.value.message
    with pytest.raises(ValidationFailedError):
        check_json_object([1, 2], field="context", max_bytes=64 * 1024)


def test_priority_must_be_a_whole_number_in_range() -> None:
    assert check_priority(None) == 0
    assert check_priority(-100) == -100
    for bad in (101, -101, True):
        with pytest.raises(ValidationFailedError):
            check_priority(bad)  # type: ignore[arg-type]


def test_malformed_ids_are_validation_errors() -> None:
    assert parse_id("3f2b8c1e-9d4a-4e6b-8f1a-2c3d4e5f6a7b", field="id") == uuid.UUID(
        "3f2b8c1e-9d4a-4e6b-8f1a-2c3d4e5f6a7b"
    )
    with pytest.raises(ValidationFailedError) as error:
        parse_id("42", field="taskId")
    assert error.value.field == "taskId"


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("", "application/json"),
        ("application/json", "application/json"),
        ("application/graphql-response+json", "application/graphql-response+json"),
        (
            "application/graphql-response+json, application/json;q=0.9",
            "application/graphql-response+json",
        ),
        ("application/json, application/graphql-response+json;q=0.5", "application/json"),
        ("*/*", "application/json"),
        ("text/plain", None),
        ("application/graphql-response+json;q=0", None),
    ],
)
def test_graphql_response_media_type_negotiation(accept: str, expected: str | None) -> None:
    assert preferred_media_type(accept) == expected
