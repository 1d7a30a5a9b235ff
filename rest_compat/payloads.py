"""The `data` of each successful response: one model per route shape."""

from __future__ import annotations

from pydantic import Field

from rest_compat.views import EventJson, LogView, StepView, TaskJson, View


class TaskData(View):
    """The task as it stands after the call."""

    task: TaskJson


class CurrentExecution(View):
    """The step running or awaiting approval now."""

    step: StepView
    progress: float = Field(description="The task's completed share of the plan, 0 to 1.")
    status: str = Field(description="The step's status: `running` or `awaiting_approval`.")


class TaskDetail(View):
    """A task with its log; `currentExecution` is present only while a step is active."""

    task: TaskJson
    logs: list[LogView] = Field(description="Log lines, oldest first (the newest 500).")
    current_execution: CurrentExecution | None = Field(
        default=None, description="Absent when no step is running or awaiting approval."
    )


class HistoryPage(View):
    """A page of tasks, newest first."""

    tasks: list[TaskJson]
    total: int = Field(
        description="How many tasks match the filters; counted up to 10,000 (see totalExact)."
    )
    total_exact: bool = Field(
        description="False when more than 10,000 tasks match: `total` is then 10,000, "
        "a lower bound."
    )
    limit: int
    offset: int


class EventsPage(View):
    """Stored events after the cursor, oldest first."""

    events: list[EventJson]
    next_after: int = Field(description="Pass as `after` next time: the last seq returned.")


PAYLOAD_MODELS: tuple[type[View], ...] = (TaskData, TaskDetail, HistoryPage, EventsPage)
