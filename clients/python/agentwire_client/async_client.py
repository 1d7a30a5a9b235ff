"""`AsyncClient`: `Client`'s operations for asyncio code, on the same `calls` core."""

from __future__ import annotations

from typing import Any, TypeVar

import httpx

from agentwire_client import calls
from agentwire_client._common import BearerAuth, TokenSource, WatchOptions, base_url
from agentwire_client.models import Task, TaskPage
from agentwire_client.watch import Backoff, Watch

T = TypeVar("T")


class AsyncClient:
    """`async with AsyncClient(url, token=...) as client:` — the methods of `Client`, awaited;
    `watch()` and `watch_all()` are async iterators."""

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
        self._http = httpx.AsyncClient(
            base_url=base_url(url), auth=BearerAuth(token), timeout=timeout
        )
        self._watches = WatchOptions(
            url, token, backoff=backoff, max_attempts=max_attempts, connect_timeout=connect_timeout
        )

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def run(self, call: calls.Call[T]) -> T:
        return call.parse(calls.data_of(await self._http.post("/graphql", json=call.body())))

    async def execute(self, name: str, **variables: Any) -> dict[str, Any]:
        """Run operation `name` from the shipped documents; raise AgentwireError on errors."""
        return await self.run(calls.raw(name, variables))

    async def submit_task(
        self,
        task: str,
        *,
        priority: int | None = None,
        conversation_id: str | None = None,
        context: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Task:
        return await self.run(
            calls.submit_task(
                task,
                priority=priority,
                conversation_id=conversation_id,
                context=context,
                idempotency_key=idempotency_key,
            )
        )

    async def task(self, task_id: str) -> Task | None:
        return await self.run(calls.get_task(task_id))

    async def tasks(
        self, *, status: str | None = None, first: int = 20, after: str | None = None
    ) -> TaskPage:
        return await self.run(calls.list_tasks(status=status, first=first, after=after))

    async def cancel_task(self, task_id: str, *, mode: str | None = None) -> Task:
        return await self.run(calls.cancel_task(task_id, mode=mode))

    async def approve(
        self,
        task_id: str,
        approval_id: str,
        *,
        approved: bool = True,
        message: str | None = None,
        modified_parameters: dict[str, Any] | None = None,
    ) -> Task:
        """Answer an approval request: run the step (optionally with edited parameters) or not."""
        return await self.run(
            calls.approve(
                task_id,
                approval_id,
                approved=approved,
                message=message,
                modified_parameters=modified_parameters,
            )
        )

    async def approve_batch(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Answer several requests at once, all or none (see Client.approve_batch)."""
        return await self.run(calls.approve_batch(items))

    async def undo(self, task_id: str, *, step_id: str | None = None) -> Task:
        return await self.run(calls.undo(task_id, step_id=step_id))

    async def undo_plan(self, task_id: str, *, step_id: str | None = None) -> dict[str, Any]:
        """What undo would do: {possible, reason, hint, steps}."""
        return await self.run(calls.undo_plan(task_id, step_id=step_id))

    async def task_events(
        self, task_id: str, *, after: int = 0, limit: int = 100
    ) -> list[dict[str, Any]]:
        """The task's stored events with seq > `after`, oldest first."""
        return await self.run(calls.task_events(task_id, after=after, limit=limit))

    def watch(
        self, task_id: str, *, after: int | None = None, until_finished: bool = False
    ) -> Watch:
        """The task's events, each once, across reconnects (see Client.watch)."""
        return self._watches.task(task_id, after=after, until_finished=until_finished)

    def watch_all(self, *, after: str | None = None) -> Watch:
        """Every event of every task of the caller from now (or after `after`, a cursor)."""
        return self._watches.all_tasks(after=after)
