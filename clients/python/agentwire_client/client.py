"""`Client`: agentwire's task API over HTTP (httpx) and live events over graphql-transport-ws.

Every operation is a `calls.Call` shared with `AsyncClient`; this class only sends it."""

from __future__ import annotations

from typing import Any, TypeVar

import httpx

from agentwire_client import calls
from agentwire_client._common import BearerAuth, TokenSource, WatchOptions, base_url
from agentwire_client.models import AgentwireError, Task, TaskEvent, TaskPage
from agentwire_client.operations import operation
from agentwire_client.watch import Backoff, SyncWatch

__all__ = ["AgentwireError", "Client", "Task", "TaskEvent", "TaskPage", "operation"]

T = TypeVar("T")


class Client:
    """`Client("http://127.0.0.1:8000", token=...)`: one method per operation, and watches.

    `backoff`, `max_attempts` (None: retry forever) and `connect_timeout` set how watches
    reconnect."""

    def __init__(
        self,
        url: str,
        token: TokenSource,
        *,
        timeout: float = 30.0,
        backoff: Backoff | None = None,
        max_attempts: int | None = None,
        connect_timeout: float = 10.0,
    ) -> None:
        self._http = httpx.Client(base_url=base_url(url), auth=BearerAuth(token), timeout=timeout)
        self._watches = WatchOptions(
            url, token, backoff=backoff, max_attempts=max_attempts, connect_timeout=connect_timeout
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def run(self, call: calls.Call[T]) -> T:
        return call.parse(calls.data_of(self._http.post("/graphql", json=call.body())))

    def execute(self, name: str, **variables: Any) -> dict[str, Any]:
        """Run operation `name` from the shipped documents; raise AgentwireError on errors."""
        return self.run(calls.raw(name, variables))

    def submit_task(
        self,
        task: str,
        *,
        priority: int | None = None,
        conversation_id: str | None = None,
        context: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Task:
        return self.run(
            calls.submit_task(
                task,
                priority=priority,
                conversation_id=conversation_id,
                context=context,
                idempotency_key=idempotency_key,
            )
        )

    def task(self, task_id: str) -> Task | None:
        return self.run(calls.get_task(task_id))

    def tasks(
        self, *, status: str | None = None, first: int = 20, after: str | None = None
    ) -> TaskPage:
        return self.run(calls.list_tasks(status=status, first=first, after=after))

    def cancel_task(self, task_id: str, *, mode: str | None = None) -> Task:
        return self.run(calls.cancel_task(task_id, mode=mode))

    def approve(
        self,
        task_id: str,
        approval_id: str,
        *,
        approved: bool = True,
        message: str | None = None,
        modified_parameters: dict[str, Any] | None = None,
    ) -> Task:
        """Answer an approval request: run the step (optionally with edited parameters) or not."""
        return self.run(
            calls.approve(
                task_id,
                approval_id,
                approved=approved,
                message=message,
                modified_parameters=modified_parameters,
            )
        )

    def approve_batch(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Answer several requests at once, all or none; items are ApproveInput objects
        ({taskId, approvalId, approved, message?, modifiedParameters?})."""
        return self.run(calls.approve_batch(items))

    def undo(self, task_id: str, *, step_id: str | None = None) -> Task:
        return self.run(calls.undo(task_id, step_id=step_id))

    def undo_plan(self, task_id: str, *, step_id: str | None = None) -> dict[str, Any]:
        """What undo would do: {possible, reason, hint, steps}."""
        return self.run(calls.undo_plan(task_id, step_id=step_id))

    def task_events(
        self, task_id: str, *, after: int = 0, limit: int = 100
    ) -> list[dict[str, Any]]:
        """The task's stored events with seq > `after`, oldest first."""
        return self.run(calls.task_events(task_id, after=after, limit=limit))

    def watch(
        self, task_id: str, *, after: int | None = None, until_finished: bool = False
    ) -> SyncWatch:
        """The task's events, each once, across reconnects: a SNAPSHOT first unless `after`
        (a seq) is given. Close it (or use `with`) when done."""
        return SyncWatch(self._watches.task(task_id, after=after, until_finished=until_finished))

    def watch_all(self, *, after: str | None = None) -> SyncWatch:
        """Every event of every task of the caller from now (or after `after`, a cursor)."""
        return SyncWatch(self._watches.all_tasks(after=after))
