"""The global, commit-ordered position of every stored event (`task_events.global_seq`).

A plain autoincrement id is handed out when a row is inserted, not when its
transaction commits: under concurrent PostgreSQL transactions, id 11 can become
visible before id 10, and a reader that resumes "after 11" would never see 10.

PostgreSQL: an event is inserted with no position, and positions are handed out
*after* commit by `assign_positions`, one short transaction that takes the
`event_log_counter` row lock, reads every committed row still without a position
and numbers them on from the counter. Only that pass holds the lock (never a
writer's transaction, so writers do not wait on each other's commits), and a pass
starts only after the previous one committed: positions become visible strictly
in order, and a reader that has seen position N has seen every position below N,
now and later. A transaction that started first and commits last simply gets the
next positions when it commits. Readers never see a row without a position (they
filter on it), and one task's rows are numbered in `seq` order; since a task's
transactions commit one after another (its row is locked), the rows of a task that
have a position are always a prefix of its log.

SQLite: writers are serialised by the database lock (BEGIN IMMEDIATE) from their
first statement to their commit, so the counter is taken at flush inside the
writer's transaction, as before, at no extra cost.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from db.models import TaskEvent

_RESERVE = text("UPDATE event_log_counter SET value = value + :count WHERE id = 1 RETURNING value")
_LOCK_COUNTER = text("SELECT value FROM event_log_counter WHERE id = 1 FOR UPDATE")
_SET_COUNTER = text("UPDATE event_log_counter SET value = :value WHERE id = 1")
# The statement after the lock takes a fresh snapshot (READ COMMITTED), so it sees every
# commit up to the previous pass, including that pass's own positions.
_PENDING = text(
    "SELECT task_id, seq FROM task_events WHERE global_seq IS NULL "
    "ORDER BY task_id, seq LIMIT :limit"
)
_STAMP = text(
    "UPDATE task_events AS e SET global_seq = :base + p.n "
    "FROM (SELECT task_id, seq, row_number() OVER (ORDER BY task_id, seq) AS n "
    "      FROM task_events WHERE global_seq IS NULL ORDER BY task_id, seq LIMIT :limit) AS p "
    "WHERE e.task_id = p.task_id AND e.seq = p.seq "
    "RETURNING e.task_id, e.seq, e.global_seq"
)
PASS_LIMIT = 5000

EventKey = tuple[uuid.UUID, int]


def positions_at_flush(session: Session) -> bool:
    """Whether this session's database numbers events inside the writer (SQLite)."""
    return session.get_bind().dialect.name == "sqlite"


def reserve_positions(session: Session, count: int) -> int:
    """Reserve `count` positions; returns the first. Holds the counter lock until commit."""
    last = session.connection().execute(_RESERVE, {"count": count}).scalar_one()
    return int(last) - count + 1


@event.listens_for(Session, "before_flush")
def _stamp_global_positions(session: Session, _context: Any, _instances: Any) -> None:
    new_events = [
        obj for obj in session.new if isinstance(obj, TaskEvent) and obj.global_seq is None
    ]
    if not new_events or not positions_at_flush(session):
        return
    # Per task in seq order, so one task's events keep their order globally too.
    new_events.sort(key=lambda row: (str(row.task_id), row.seq))
    first = reserve_positions(session, len(new_events))
    for offset, row in enumerate(new_events):
        row.global_seq = first + offset


@dataclass(frozen=True, slots=True)
class Assigned:
    """What one pass numbered: (task, seq) -> position, in position order."""

    positions: dict[EventKey, int]


async def assign_positions(session: AsyncSession, *, limit: int = PASS_LIMIT) -> Assigned:
    """Number every committed event that has no position yet (PostgreSQL), in a
    transaction of its own on `session`. Returns the positions handed out, at most
    `limit` per call."""
    async with session.begin():
        base_row = (await session.execute(_LOCK_COUNTER)).scalar_one()
        base = int(base_row)
        rows = (await session.execute(_STAMP, {"base": base, "limit": limit})).all()
        positions = {(uuid.UUID(str(r[0])), int(r[1])): int(r[2]) for r in rows}
        if positions:
            await session.execute(_SET_COUNTER, {"value": base + len(positions)})
    return Assigned(dict(sorted(positions.items(), key=lambda item: item[1])))


async def positions_of(session: AsyncSession, keys: Sequence[EventKey]) -> dict[EventKey, int]:
    """The positions already given to `keys` (by another pass, here or on another instance)."""
    if not keys:
        return {}
    task_ids = {task_id for task_id, _ in keys}
    wanted = set(keys)
    result = await session.execute(
        select(TaskEvent.task_id, TaskEvent.seq, TaskEvent.global_seq).where(
            TaskEvent.task_id.in_(task_ids),
            TaskEvent.seq.in_({seq for _, seq in keys}),
            TaskEvent.global_seq.is_not(None),
        )
    )
    return {
        (task_id, int(seq)): int(position)
        for task_id, seq, position in result.all()
        if position is not None and (task_id, int(seq)) in wanted
    }


async def has_unpositioned(session: AsyncSession) -> bool:
    """A committed event still without a position (its writer died before its pass)."""
    result = await session.execute(_PENDING, {"limit": 1})
    return result.first() is not None


async def rows_by_keys(session: AsyncSession, keys: Sequence[EventKey]) -> list[TaskEvent]:
    """Full rows for `keys` (events a pass numbered that no local writer is waiting for)."""
    if not keys:
        return []
    wanted = set(keys)
    result = await session.execute(
        select(TaskEvent).where(
            TaskEvent.task_id.in_({t for t, _ in keys}),
            TaskEvent.seq.in_({s for _, s in keys}),
        )
    )
    rows = [row for row in result.scalars().all() if (row.task_id, row.seq) in wanted]
    return sorted(rows, key=lambda row: row.global_seq or 0)
