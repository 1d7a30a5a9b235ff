"""The Python SDK's resume rules (clients/python/agentwire_client/watch.py), without a socket:
what a watch resubscribes with, and which events it drops as already yielded."""

from __future__ import annotations

from typing import Any

import pytest
from agentwire_client.models import TaskEvent
from agentwire_client.watch import AllTasksCursor, Backoff, TaskCursor, close_code
from gql.transport.exceptions import TransportConnectionFailed
from websockets.exceptions import ConnectionClosedError
from websockets.frames import Close


def event(kind: str, seq: int | None, *, task: str = "t1", cursor: str | None = None) -> TaskEvent:
    data: dict[str, Any] = {"taskId": task}
    return TaskEvent.from_graphql(
        {"id": f"{task}-{seq}-{kind}", "type": kind, "seq": seq, "cursor": cursor,
         "timestamp": 0, "priority": "NORMAL", "data": data}
    )  # fmt: skip


def test_a_task_cursor_resumes_after_the_last_seq_and_drops_repeats() -> None:
    cursor = TaskCursor("t1", after=None, snapshot=True)
    assert cursor.request().variable_values == {"taskId": "t1"}
    assert cursor.accept(event("SNAPSHOT", 4))
    assert cursor.accept(event("STEP_START", 5))
    assert cursor.request().variable_values == {"taskId": "t1", "after": 5}
    # a replay after a reconnect repeats what was yielded; only the new event passes
    assert [cursor.accept(event("STEP_START", s)) for s in (4, 5, 6)] == [False, False, True]
    # ephemeral events move no cursor and always pass
    assert cursor.accept(event("QUEUE_UPDATE", None))
    assert cursor.seq == 6
    # a snapshot older than what was yielded is stale; a newer one (log trimmed) is taken
    assert not cursor.accept(event("SNAPSHOT", 3))
    assert cursor.accept(event("SNAPSHOT", 9)) and cursor.seq == 9


def test_a_task_cursor_given_a_start_replays_from_it() -> None:
    cursor = TaskCursor("t1", after=7, snapshot=False)
    assert cursor.request().variable_values == {"taskId": "t1", "after": 7}
    assert not cursor.accept(event("STEP_START", 7))
    assert cursor.accept(event("STEP_START", 8))


def test_an_all_tasks_cursor_keeps_the_last_stored_cursor_and_a_seq_per_task() -> None:
    cursor = AllTasksCursor(after=None)
    assert cursor.request().variable_values == {}
    assert cursor.accept(event("STATUS_CHANGE", 1, task="a", cursor="c1"))
    assert cursor.accept(event("STATUS_CHANGE", 1, task="b", cursor="c2"))
    assert cursor.accept(event("QUEUE_UPDATE", None, task="b"))
    assert cursor.request().variable_values == {"after": "c2"}
    assert not cursor.accept(event("STATUS_CHANGE", 1, task="a", cursor="c1"))
    assert cursor.accept(event("STEP_START", 2, task="a", cursor="c3"))
    assert cursor.cursor == "c3"


@pytest.mark.parametrize("attempt", [1, 2, 3, 8, 30])
def test_backoff_is_full_jitter_under_a_doubling_cap(attempt: int) -> None:
    backoff = Backoff(initial=0.5, maximum=4.0)
    cap = min(4.0, 0.5 * 2 ** (attempt - 1))
    delays = [backoff.delay(attempt) for _ in range(200)]
    assert all(0.0 <= d <= cap for d in delays)
    assert max(delays) > cap / 2  # spread over the range, not a fixed delay


def test_the_close_code_is_read_through_gql_exception_chain() -> None:
    closed = ConnectionClosedError(Close(4403, "Forbidden"), None)
    try:
        try:
            raise closed
        except ConnectionClosedError as inner:
            raise TransportConnectionFailed("Error trying to receive data") from inner
    except TransportConnectionFailed as outer:
        assert close_code(outer) == 4403
    assert close_code(TransportConnectionFailed("Connect failed")) is None
