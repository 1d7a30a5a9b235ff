"""Per-request DataLoaders: one query per kind of child row, results in key order."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from strawberry.dataloader import DataLoader

from db.models import ApprovalDecision, ApprovalRequest, Task, TaskLog, TaskStep
from db.repositories.approvals import decisions_by_approval_ids, steps_by_ids, tasks_by_ids
from db.repositories.steps import approvals_by_task_ids, logs_by_task_ids, steps_by_task_ids
from db.repositories.tasks import queue_positions


class StepsByTaskIdLoader(DataLoader[uuid.UUID, list[TaskStep]]):
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        async def load(keys: Sequence[uuid.UUID]) -> list[list[TaskStep]]:
            async with sessions() as session:
                return await steps_by_task_ids(session, keys)

        super().__init__(load_fn=load)


class LogsByTaskIdLoader(DataLoader[uuid.UUID, list[TaskLog]]):
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        async def load(keys: Sequence[uuid.UUID]) -> list[list[TaskLog]]:
            async with sessions() as session:
                return await logs_by_task_ids(session, keys)

        super().__init__(load_fn=load)


class ApprovalsByTaskIdLoader(DataLoader[uuid.UUID, list[ApprovalRequest]]):
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        async def load(keys: Sequence[uuid.UUID]) -> list[list[ApprovalRequest]]:
            async with sessions() as session:
                return await approvals_by_task_ids(session, keys)

        super().__init__(load_fn=load)


class DecisionsByApprovalIdLoader(DataLoader[uuid.UUID, list[ApprovalDecision]]):
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        async def load(keys: Sequence[uuid.UUID]) -> list[list[ApprovalDecision]]:
            async with sessions() as session:
                return await decisions_by_approval_ids(session, keys)

        super().__init__(load_fn=load)


class TaskByIdLoader(DataLoader[uuid.UUID, Task | None]):
    """The tasks an approval inbox page belongs to, in one query."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        async def load(keys: Sequence[uuid.UUID]) -> list[Task | None]:
            async with sessions() as session:
                rows = await tasks_by_ids(session, keys)
            return [rows.get(key) for key in keys]

        super().__init__(load_fn=load)


class StepByIdLoader(DataLoader[uuid.UUID, TaskStep | None]):
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        async def load(keys: Sequence[uuid.UUID]) -> list[TaskStep | None]:
            async with sessions() as session:
                rows = await steps_by_ids(session, keys)
            return [rows.get(key) for key in keys]

        super().__init__(load_fn=load)


class QueuePositionByTaskIdLoader(DataLoader[uuid.UUID, int | None]):
    """Queue positions of a page's pending tasks from one window query (None: not pending)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        async def load(keys: Sequence[uuid.UUID]) -> list[int | None]:
            async with sessions() as session:
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
        return cls(
            steps_by_task_id=StepsByTaskIdLoader(sessions),
            logs_by_task_id=LogsByTaskIdLoader(sessions),
            approvals_by_task_id=ApprovalsByTaskIdLoader(sessions),
            queue_position_by_task_id=QueuePositionByTaskIdLoader(sessions),
            decisions_by_approval_id=DecisionsByApprovalIdLoader(sessions),
            task_by_id=TaskByIdLoader(sessions),
            step_by_id=StepByIdLoader(sessions),
        )
