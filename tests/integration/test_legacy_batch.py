"""`?batchMs=N` on the legacy WebSocket (AC5.8.8): events within N ms share one frame,
critical events are never held back, and an out-of-range N is refused."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.test_legacy_ws import alice as alice
from tests.integration.test_legacy_ws import closed_with, receive, receive_until, socket
from tests.support.clients import note, steps, wait
from tests.support.rest import Rest


async def test_events_within_the_window_arrive_as_one_batch_and_critical_ones_at_once(
    alice: Rest,
) -> None:
    plan = steps(note("a", 1), wait(300), note("b", 2), note("c", 3))
    task = await alice.submit("batched", context=plan)
    async with socket(alice, task["id"], "?batchMs=200") as ws:
        connected = await receive(ws)
        assert connected["type"] == "connected"
        assert connected["data"]["batchMs"] == 200
        frames = await receive_until(
            ws,
            lambda m: (
                m["type"] == "batch" and any(e["type"] == "completed" for e in m["data"]["events"])
            ),
        )
    done = await alice.get(task["id"])
    batches = [f for f in frames if f["type"] == "batch"]
    # every event came inside a batch frame, all of them, once, in order
    assert len(batches) == len(frames)
    events = [e for b in batches for e in b["data"]["events"]]
    assert [e["seq"] for e in events if e["seq"] is not None] == list(
        range(1, done["task"]["lastSeq"] + 1)
    )
    # events close together shared a frame
    assert any(len(b["data"]["events"]) > 1 for b in batches)
    # a critical event ends its batch: it was sent the moment it came
    for batch in batches:
        kinds = [e["priority"] for e in batch["data"]["events"]]
        assert "critical" not in kinds[:-1]


@pytest.mark.parametrize("value", ["1001", "-1", "soon"])
async def test_a_batch_window_out_of_range_is_refused(alice: Rest, value: str) -> None:
    task = await alice.submit("x", context=steps(note("a", 1)))
    async with socket(alice, task["id"], f"?batchMs={value}") as ws:
        error, code = await closed_with(ws)
    assert code == 4400
    assert error["type"] == "error"
    assert error["data"]["code"] == "VALIDATION"
    assert "batchMs" in str(error["data"])


async def test_without_batch_ms_each_event_is_its_own_frame(alice: Rest) -> None:
    task = await alice.submit("plain", context=steps(note("a", 1)))
    async with socket(alice, task["id"]) as ws:
        assert (await receive(ws))["data"]["batchMs"] == 0
        frames: list[dict[str, Any]] = await receive_until(ws, lambda m: m["type"] == "completed")
    assert all(f["type"] != "batch" for f in frames)
