"""Per-request DataLoaders: one query per kind of child row, results in key order.

The loaders of one request share a session: Strawberry dispatches every loader's batch
in the same loop turn, so the batches that overlap run one after another on one pooled
connection (one checkout, one BEGIN and one ROLLBACK on PostgreSQL) instead of one
session each. The session closes when the last batch using it ends, so nothing is held
open between batches or after the request.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from strawberry.dataloader import DataLoader

from db.models import ApprovalDecision, ApprovalRequest, Task, TaskLog, TaskStep
from db.repositories.approvals import decisions_by_approval_ids, steps_by_ids, tasks_by_ids
from db.repositories.steps import approvals_by_task_ids, logs_by_task_ids, steps_by_task_ids
from db.repositories.tasks import queue_positions


class SharedSession:
    """One session for the loader batches that run at the same time, one at a time."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._session: AsyncSession | None = None
        self._users = 0
        self._turn = asyncio.Lock()

    @asynccontextmanager
    async def use(self) -> AsyncIterator[AsyncSession]:
        self._users += 1
        try:
            async with self._turn:
                if self._session is None:
                    self._session = self._sessions()
                yield self._session
        finally:
            self._users -= 1
            if self._users == 0 and self._session is not None:
                session, self._session = self._session, None
                await session.close()


class StepsByTaskIdLoader(DataLoader[uuid.UUID, list[TaskStep]]):
    def __init__(self, sessions: SharedSession) -> None:
        async def load(keys: Sequence[uuid.UUID]) -> list[list[TaskStep]]:
            async with sessions.use() as session:
                return await steps_by_task_ids(session, keys)

        super().__init__(load_fn=load)


class LogsByTaskIdLoader(DataLoader[uuid.UUID, list[TaskLog]]):
    def __init__(self, sessions: SharedSession) -> None:
        async def load(keys: Sequence[uuid.UUID]) -> list[list[TaskLog]]:
            async with sessions.use() as session:
                return await logs_by_task_ids(session, keys)

        super().__init__(load_fn=load)


class ApprovalsByTaskIdLoader(DataLoader[uuid.UUID, list[ApprovalRequest]]):
    def __init__(self, sessions: SharedSession) -> None:
        async def load(keys: Sequence[uuid.UUID]) -> list[list[ApprovalRequest]]:
            async with sessions.use() as session:
                return await approvals_by_task_ids(session, keys)

        super().__init__(load_fn=load)


class DecisionsByApprovalIdLoader(DataLoader[uuid.UUID, list[ApprovalDecision]]):
    def __init__(self, sessions: SharedSession) -> None:
        async def load(keys: Sequence[uuid.UUID]) -> list[list[ApprovalDecision]]:
            async with sessions.use() as session:
                return await decisions_by_approval_ids(session, keys)

        super().__init__(load_fn=load)


class TaskByIdLoader(DataLoader[uuid.UUID, Task | None]):
    """The tasks an approval inbox page belongs to, in one query."""

    def __init__(self, sessions: SharedSession) -> None:
        async def load(keys: Sequence[uuid.UUID]) -> list[Task | None]:
            async with sessions.use() as session:
                rows = await tasks_by_ids(session, keys)
            return [rows.get(key) for key in keys]

        super().__init__(load_fn=load)


class StepByIdLoader(DataLoader[uuid.UUID, TaskStep | None]):
    def __init__(self, sessions: SharedSession) -> None:
        async def load(keys: Sequence[uuid.UUID]) -> list[TaskStep | None]:
            async with sessions.use() as session:
                rows = await steps_by_ids(session, keys)
            return [rows.get(key) for key in keys]

        super().__init__(load_fn=load)


class QueuePositionByTaskIdLoader(DataLoader[uuid.UUID, int | None]):
    """Queue positions of a page's pending tasks from one window query (None: not pending)."""

    def __init__(self, sessions: SharedSession) -> None:
        async def load(keys: Sequence[uuid.UUID]) -> list[int | None]:
            async with sessions.use() as session:
                positions = await queue_positions(session, keys)
            return [positions.get(key) for key in keys]

        super().__init__(load_fn=load)


@dataclass
class Loaders:
    steps_by_task_id: StepsByTaskIdLoader
    logs_by_task_id: LogsByTaskIdLoader
    approvals_by_task_id: ApprovalsByTaskIdLoader
    queue_position_by_task_id: QueuePositionByTaskIdLoader
    decisions_by_approval_id: DecisionsByApprovalIdLoader
    task_by_id: TaskByIdLoader
    step_by_id: StepByIdLoader

    @classmethod
    def create(cls, sessions: async_sessionmaker[AsyncSession]) -> Loaders:
        shared = SharedSession(sessions)
        return cls(
            steps_by_task_id=StepsByTaskIdLoader(shared),
            logs_by_task_id=LogsByTaskIdLoader(shared),
            approvals_by_task_id=ApprovalsByTaskIdLoader(shared),
            queue_position_by_task_id=QueuePositionByTaskIdLoader(shared),
            decisions_by_approval_id=DecisionsByApprovalIdLoader(shared),
            task_by_id=TaskByIdLoader(shared),
            step_by_id=StepByIdLoader(shared),
        )
