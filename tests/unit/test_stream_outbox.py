"""The per-subscriber outbox: low events coalesce when it fills, then it reports lag."""

from __future__ import annotations

from subscriptions.envelope import Event, EventType
from subscriptions.outbox import Outbox, Outgoing, coalesce_key


def event(seq: int, kind: EventType, step: str | None = None) -> Event:
    data: dict[str, object] = {"taskId": "t"}
    if step is not None:
        data["step"] = {"id": step}
    return Event(task_id="t", user_id="u", type=kind, data=data, seq=seq)


def item(seq: int, kind: EventType, step: str | None = None) -> Outgoing:
    e = event(seq, kind, step)
    return Outgoing(
        frame=str(seq),
        position=seq,
        priority=e.effective_priority,
        coalesce_key=coalesce_key(e),
        event=e,
    )


def test_only_low_events_have_a_coalescing_key() -> None:
    assert coalesce_key(event(1, EventType.STEP_PROGRESS, "a")) == "t:step_progress:a"
    assert coalesce_key(event(1, EventType.QUEUE_UPDATE)) == "t:queue_update"
    assert coalesce_key(event(1, EventType.STEP_COMPLETE, "a")) is None
    assert coalesce_key(event(1, EventType.APPROVAL_REQUEST)) is None


def test_below_capacity_everything_is_kept_in_order() -> None:
    outbox = Outbox(capacity=3)
    for seq in (1, 2, 3):
        outbox.push(item(seq, EventType.STEP_PROGRESS, "a"))
    assert [i.frame for i in outbox.items] == ["1", "2", "3"]
    assert not outbox.lagged


def test_when_full_the_newest_progress_per_step_wins() -> None:
    outbox = Outbox(capacity=4)
    outbox.push(item(1, EventType.STEP_PROGRESS, "a"))
    outbox.push(item(2, EventType.STEP_PROGRESS, "b"))
    outbox.push(item(3, EventType.STATUS_CHANGE))
    outbox.push(item(4, EventType.STEP_PROGRESS, "a"))
    # full: the next progress of step b replaces b's older one; a keeps only its newest
    outbox.push(item(5, EventType.STEP_PROGRESS, "b"))
    assert [i.frame for i in outbox.items] == ["3", "4", "5"]
    assert outbox.coalesced == 2
    assert not outbox.lagged


def test_critical_events_are_never_coalesced_and_overflow_becomes_lag() -> None:
    outbox = Outbox(capacity=2)
    outbox.push(item(1, EventType.STATUS_CHANGE))
    outbox.push(item(2, EventType.APPROVAL_REQUEST))
    outbox.push(item(3, EventType.COMPLETED))
    assert outbox.lagged
    assert outbox.dropped is not None and outbox.dropped.seq == 3
    assert len(outbox) == 0
    # while lagged nothing more is queued: the subscriber resumes from the log
    outbox.push(item(4, EventType.STATUS_CHANGE))
    assert len(outbox) == 0
    outbox.reset()
    outbox.push(item(5, EventType.STATUS_CHANGE))
    assert [i.frame for i in outbox.items] == ["5"] and not outbox.lagged
