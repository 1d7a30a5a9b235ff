"""The global cursor is commit-ordered on PostgreSQL without one hot row: a writer never
waits for another writer's commit, positions are handed out after commit, and a reader
following the cursor never skips an event whose transaction started first and committed
last."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.engine import create_engine, create_session_factory
from db.event_log import assign_positions
from db.migrate import upgrade_to_head
from db.models import Task, TaskEvent, User
from db.repositories.events import append_event, events_after
from db.repositories.feeds import user_events_after
from subscriptions.bus import InProcessBus
from subscriptions.envelope import Event
from subscriptions.feeds import UserFeed, event_from_row
from subscriptions.sequencer import Sequencer
from tests.support.realtime import scratch_postgres

pytestmark = pytest.mark.postgres

# Bounded waits: a writer that blocked on another's commit would exceed this by far.
WRITE_SECONDS = 5.0


@asynccontextmanager
async def two_tasks() -> AsyncIterator[tuple[async_sessionmaker[AsyncSession], User, Task, Task]]:
    async with scratch_postgres() as url:
        await upgrade_to_head(url)
        database = create_engine(url)
        sessions = create_session_factory(database)
        user = User(id=uuid.uuid4(), subject="cursor", display_name="cursor", roles=[])
        first = Task(id=uuid.uuid4(), user_id=user.id, task="one", last_seq=0)
        second = Task(id=uuid.uuid4(), user_id=user.id, task="two", last_seq=0)
        async with sessions() as session, session.begin():
            session.add(user)
            await session.flush()
            session.add_all([first, second])
        try:
            yield sessions, user, first, second
        finally:
            await database.dispose()


def add_event(session: AsyncSession, task: Task) -> TaskEvent:
    return append_event(
        session,
        task,
        event_id=uuid.uuid4().hex[:26],
        type="status_change",
        priority="critical",
        data={"taskId": str(task.id)},
    )


async def open_writer(
    sessions: async_sessionmaker[AsyncSession], task_id: uuid.UUID
) -> AsyncSession:
    """A transaction that has flushed one event of `task_id` and stays open."""
    session = sessions()
    await session.begin()
    task = await session.get(Task, task_id, with_for_update=True)
    assert task is not None
    add_event(session, task)
    await session.flush()
    return session


async def test_late_commit_is_not_skipped_and_writers_do_not_wait() -> None:
    async with two_tasks() as (sessions, user, first, second):
        # given a transaction that started first and has flushed its event
        early = await open_writer(sessions, first.id)
        try:
            # when a second transaction stores an event and commits meanwhile,
            # it does not wait for the first (there is no hot row to wait on)
            later = await asyncio.wait_for(open_writer(sessions, second.id), WRITE_SECONDS)
            await asyncio.wait_for(later.commit(), WRITE_SECONDS)
            await later.close()
            async with sessions() as session:
                await assign_positions(session)
            # a reader following the cursor sees the committed event
            async with sessions() as session:
                seen = list(await user_events_after(session, user.id, after=0, limit=10))
            assert [row.task_id for row in seen] == [second.id]
            cursor = int(seen[-1].global_seq or 0)
            # and the event still in flight is not served yet, not even by seq
            async with sessions() as session:
                assert list(await events_after(session, first.id, after=0, limit=10)) == []
        finally:
            # then the first transaction commits last
            await early.commit()
            await early.close()
        async with sessions() as session:
            await assign_positions(session)
        async with sessions() as session:
            resumed = list(await user_events_after(session, user.id, after=cursor, limit=10))
            everything = list(await user_events_after(session, user.id, after=0, limit=10))
        # the reader resuming after its cursor gets the late event: nothing was skipped
        assert [row.task_id for row in resumed] == [first.id]
        assert int(resumed[0].global_seq or 0) == cursor + 1
        assert [row.global_seq for row in everything] == [cursor, cursor + 1]


async def test_live_user_feed_delivers_a_late_commit() -> None:
    async with two_tasks() as (sessions, user, first, second):
        sequencer = Sequencer(sessions)
        bus = InProcessBus(sequencer=sequencer)
        await bus.start()
        feed = UserFeed(sessions=sessions, bus=bus, user_id=user.id, quiet_recheck_seconds=30)
        received: list[Event] = []
        got = asyncio.Event()

        async def follow() -> None:
            async for event in feed.live(0):
                received.append(event)
                got.set()

        async def publish_committed(task_id: uuid.UUID) -> None:
            """What a writer does after its commit: publish the event it stored."""
            async with sessions() as reader:
                stored = await reader.get(Task, task_id)
                assert stored is not None
                row = await reader.get(TaskEvent, (task_id, stored.last_seq))
                assert row is not None
            await bus.publish([event_from_row(row, str(user.id))])

        async def wait_for(count: int) -> None:
            async with asyncio.timeout(WRITE_SECONDS):
                while len(received) < count:
                    got.clear()
                    await got.wait()

        follower = asyncio.create_task(follow())
        try:
            early = await open_writer(sessions, first.id)
            later = await asyncio.wait_for(open_writer(sessions, second.id), WRITE_SECONDS)
            await asyncio.wait_for(later.commit(), WRITE_SECONDS)
            await publish_committed(second.id)
            await later.close()
            await wait_for(1)
            await early.commit()
            await publish_committed(first.id)
            await early.close()
            await wait_for(2)
        finally:
            follower.cancel()
            await asyncio.gather(follower, return_exceptions=True)
            await bus.stop()
        # the live feed delivered both, the late one after the early-committed one
        assert [event.task_id for event in received] == [str(second.id), str(first.id)]
        cursors = [event.cursor for event in received]
        assert cursors[0] is not None and cursors[1] == cursors[0] + 1
