"""The global cursor is commit-ordered on PostgreSQL: a transaction that stores events after
another one has reserved positions waits for that commit, so resuming after a cursor never
skips a row that commits late."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from db.engine import create_engine, create_session_factory
from db.migrate import upgrade_to_head
from db.models import Task, User
from db.repositories.events import append_event
from db.repositories.feeds import user_events_after
from tests.support.realtime import scratch_postgres

pytestmark = pytest.mark.postgres


async def test_concurrent_writers_get_cursors_in_commit_order() -> None:
    async with scratch_postgres() as url:
        await upgrade_to_head(url)
        database = create_engine(url)
        sessions = create_session_factory(database)
        user = User(id=uuid.uuid4(), subject="cursor", display_name="cursor", roles=[])
        first_task = Task(id=uuid.uuid4(), user_id=user.id, task="one", last_seq=0)
        second_task = Task(id=uuid.uuid4(), user_id=user.id, task="two", last_seq=0)
        async with sessions() as session, session.begin():
            session.add(user)
            await session.flush()
            session.add_all([first_task, second_task])

        def add_event(session: object, task: Task) -> object:
            return append_event(
                session,  # type: ignore[arg-type]
                task,
                event_id=uuid.uuid4().hex[:26],
                type="status_change",
                priority="critical",
                data={"taskId": str(task.id)},
            )

        # given a transaction that has flushed an event (and so reserved its position)
        early = sessions()
        await early.begin()
        task_one = await early.get(Task, first_task.id)
        assert task_one is not None
        early_row = add_event(early, task_one)
        await early.flush()

        async def later_writer() -> int:
            async with sessions() as session, session.begin():
                task_two = await session.get(Task, second_task.id)
                assert task_two is not None
                row = add_event(session, task_two)
                await session.flush()
            return int(row.global_seq)  # type: ignore[attr-defined]

        # when another transaction stores an event meanwhile
        later = asyncio.create_task(later_writer())
        await asyncio.sleep(0.3)
        # then it waits for the first commit instead of becoming visible before it
        assert not later.done()
        await early.commit()
        await early.close()
        later_position = await later
        assert early_row.global_seq < later_position  # type: ignore[attr-defined]
        async with sessions() as session:
            seen = await user_events_after(session, user.id, after=0, limit=10)
        assert [row.global_seq for row in seen] == [early_row.global_seq, later_position]  # type: ignore[attr-defined]
        await database.dispose()
