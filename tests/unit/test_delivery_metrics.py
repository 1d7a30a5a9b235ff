"""The delivery metrics of the shared fan-out: a slow subscriber's coalesced frames and lag
are counted, and each member is one open subscription while it runs.

A slow socket is the one fault here that a real client cannot cause on demand (the kernel's
buffers absorb megabytes), so the socket is a send that waits on a gate."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from prometheus_client import REGISTRY

from server.metrics import install_recorder
from subscriptions import telemetry
from subscriptions.envelope import EventType
from subscriptions.hub import Hub
from subscriptions.outbox import Outbox
from tests.unit.test_stream_hub import MemoryFeed, Socket, member, render, settle
from tests.unit.test_stream_outbox import item


@pytest.fixture(autouse=True)
def prometheus() -> Iterator[None]:
    previous = telemetry.recorder
    install_recorder(enabled=True)
    yield
    telemetry.install(previous)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_coalesced_frames_are_counted() -> None:
    before = sample("agentwire_events_coalesced_total")
    outbox = Outbox(capacity=4)
    outbox.push(item(1, EventType.STEP_PROGRESS, "a"))
    outbox.push(item(2, EventType.STEP_PROGRESS, "b"))
    outbox.push(item(3, EventType.STATUS_CHANGE))
    outbox.push(item(4, EventType.STEP_PROGRESS, "a"))
    outbox.push(item(5, EventType.STEP_PROGRESS, "b"))
    assert sample("agentwire_events_coalesced_total") - before == outbox.coalesced == 2


def test_with_metrics_off_nothing_is_recorded() -> None:
    install_recorder(enabled=False)
    before = sample("agentwire_events_coalesced_total")
    outbox = Outbox(capacity=1)
    outbox.push(item(1, EventType.STEP_PROGRESS, "a"))
    outbox.push(item(2, EventType.STEP_PROGRESS, "a"))
    assert outbox.coalesced == 1
    assert sample("agentwire_events_coalesced_total") == before


async def test_a_lagging_member_is_counted_and_members_are_open_subscriptions() -> None:
    ws = {"channel": "graphql-ws"}
    lagged_before = sample("agentwire_subscribers_lagged_total")
    open_before = sample("agentwire_subscriptions", **ws)
    sent_before = sample("agentwire_messages_sent_total", **ws)
    delays_before = sample("agentwire_event_delivery_seconds_count")
    feed, hub = MemoryFeed(), Hub()
    gate = asyncio.Event()
    fast, slow = Socket(), Socket(gate)
    runs = [
        asyncio.create_task(
            member("f", fast).run(hub, feed, group_key="g", render=render, start=0)
        ),
        asyncio.create_task(
            member("s", slow, capacity=4).run(hub, feed, group_key="g", render=render, start=0)
        ),
    ]
    await settle(lambda: hub.member_count == 2)
    assert sample("agentwire_subscriptions", **ws) - open_before == 2
    kinds = [EventType.STATUS_CHANGE, EventType.APPROVAL_REQUEST, EventType.STEP_COMPLETE] * 6
    for kind in kinds:
        feed.append(kind)
        await asyncio.sleep(0)
    await settle(lambda: len(fast.frames) == len(kinds))
    gate.set()
    await settle(lambda: slow.frames and slow.seqs()[-1] == len(kinds))
    assert slow.types().count("lagged") == 1
    assert sample("agentwire_subscribers_lagged_total") - lagged_before == 1
    sent = len(fast.frames) + len(slow.frames)
    assert sample("agentwire_messages_sent_total", **ws) - sent_before == sent
    # every event was appended after both subscribed: each send of one is a live delivery
    # (the LAGGED notice is stream control, not an event)
    assert sample("agentwire_event_delivery_seconds_count") - delays_before == sent - 1
    for run in runs:
        run.cancel()
    await asyncio.gather(*runs, return_exceptions=True)
    assert sample("agentwire_subscriptions", **ws) == open_before
