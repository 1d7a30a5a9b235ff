"""The global, commit-ordered position of every stored event (`task_events.global_seq`).

A plain autoincrement id is handed out when a row is inserted, not when its
transaction commits: under concurrent PostgreSQL transactions, id 11 can become
visible before id 10, and a reader that resumes "after 11" would never see 10.
Here every transaction that stores events takes its positions from one counter
row, at flush time (the flush that commits, since sessions do not autoflush),
and keeps that row locked until it commits. The next writer waits for the lock,
so positions become visible strictly in order: a reader that has seen position
N has already seen every committed position below N, and resuming after N loses
and repeats nothing. The cost is that event-writing commits are serialized on
one row for the moment between their flush and their commit.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, text
from sqlalchemy.orm import Session

from db.models import TaskEvent

_RESERVE = text("UPDATE event_log_counter SET value = value + :count WHERE id = 1 RETURNING value")


def reserve_positions(session: Session, count: int) -> int:
    """Reserve `count` positions; returns the first. Holds the counter lock until commit."""
    last = session.connection().execute(_RESERVE, {"count": count}).scalar_one()
    return int(last) - count + 1


@event.listens_for(Session, "before_flush")
def _stamp_global_positions(session: Session, _context: Any, _instances: Any) -> None:
    new_events = [
        obj for obj in session.new if isinstance(obj, TaskEvent) and obj.global_seq is None
    ]
    if not new_events:
        return
    # Per task in seq order, so one task's events keep their order globally too.
    new_events.sort(key=lambda row: (str(row.task_id), row.seq))
    first = reserve_positions(session, len(new_events))
    for offset, row in enumerate(new_events):
        row.global_seq = first + offset
