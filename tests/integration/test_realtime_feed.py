"""myTaskUpdates: every event of every task of the caller, resumable by a global cursor;
and a long-lived subscription whose server memory stays flat."""

from __future__ import annotations

import asyncio
import gc
import json
import uuid
from collections.abc import Callable
from typing import Any

import psutil

from subscriptions.envelope import Event, EventType
from tests.integration.test_realtime import graphql_view
from tests.integration.test_ws_protocol import init, raw_socket, send
from tests.support.clients import Api, note, steps, wait
from tests.support.live import LiveServer
from tests.support.operations import operation
from tests.support.realtime import Recorder


async def watching_user(server: LiveServer, user_id: str, members: int) -> None:
    hub = graphql_view(server).realtime.hub
    async with asyncio.timeout(5):
        while True:
            topic = hub.topics.get(f"user:{user_id}")
            if topic is not None and sum(len(g.members) for g in topic.groups.values()) >= members:
                return
            await asyncio.sleep(0.02)


def completed(task_id: str) -> Callable[[dict[str, Any]], bool]:
    return lambda e: e["type"] == "COMPLETED" and e["data"]["taskId"] == task_id


async def test_my_task_updates_resumes_by_cursor_without_loss_or_repeat(
    make_server: Callable[..., Any],
) -> None:
    async with make_server(max_running=1, max_running_per_user=1) as server:
        alice = Api(server, server.token())
        me = (await alice.call("Me"))["me"]["id"]
        async with alice.websocket() as ws:
            first = Recorder(ws, "MyTaskUpdates")
            await watching_user(server, me, 1)
            # given one running task and one queued behind it
            running = await alice.submit("first", context=steps(wait(600), note("a", 1)))
            queued = await alice.submit("second", context=steps(note("b", 2)))
            # (an update may come first with position 2, from before the first task started)
            update = await first.wait_for(
                lambda e: (
                    e["type"] == "QUEUE_UPDATE"
                    and e["data"]["taskId"] == queued["id"]
                    and e["data"]["queuePosition"] == 1
                )
            )
            assert update["data"]["estimatedWaitTime"] > 0
            assert update["seq"] is None and update["cursor"] is None
            await first.wait_for(lambda e: e["type"] == "STEP_START")
            await first.close()
        # when the dashboard reconnects with the last cursor it saw
        before = [e for e in first.events if e["cursor"] is not None]
        async with alice.websocket() as ws:
            second = Recorder(ws, "MyTaskUpdates", after=before[-1]["cursor"])
            await second.wait_for(completed(running["id"]))
            await second.wait_for(completed(queued["id"]))
            await second.close()
        after = [e for e in second.events if e["cursor"] is not None]
        # then together they hold every stored event of both tasks once, in commit order
        log = []
        for task in (running, queued):
            log += (await alice.call("TaskEvents", taskId=task["id"], limit=1000))["taskEvents"]
        seen = before + after
        assert sorted(e["id"] for e in seen) == sorted(e["id"] for e in log)
        assert len({e["id"] for e in seen}) == len(seen)
        by_id = {e["id"]: e["cursor"] for e in log}
        assert [by_id[e["id"]] for e in seen] == [e["cursor"] for e in seen]
        for task in (running, queued):
            mine = [e["seq"] for e in seen if e["data"]["taskId"] == task["id"]]
            assert mine == list(range(1, len(mine) + 1))


async def test_bad_cursor_is_a_validation_error(alice: Api) -> None:
    async with alice.websocket() as ws:
        recorder = Recorder(ws, "MyTaskUpdates", after="not-a-cursor")
        try:
            await recorder.wait_for(lambda e: True, timeout=5)
        except Exception as error:
            assert "cursor" in str(error)
        else:
            raise AssertionError("a bad cursor was accepted")


async def test_twenty_thousand_events_leave_the_subscription_memory_flat(
    server: LiveServer, alice: Api
) -> None:
    me = (await alice.call("Me"))["me"]["id"]
    assert server.app is not None
    bus = server.app.state.agentwire.services.bus
    process = psutil.Process()
    task_id = str(uuid.uuid4())
    received = 0
    samples: list[int] = []
    async with raw_socket(server) as ws:
        await init(ws, alice.token)
        query = operation("MyTaskUpdates")
        await send(ws, {"id": "1", "type": "subscribe", "payload": {"query": query}})
        await watching_user(server, me, 1)
        for batch in range(80):
            events = [
                Event(
                    task_id=task_id,
                    user_id=me,
                    type=EventType.QUEUE_UPDATE,
                    data={"taskId": task_id, "queuePosition": n, "estimatedWaitTime": 1.5},
                )
                for n in range(batch * 250, (batch + 1) * 250)
            ]
            await bus.publish(events)
            # read this batch before the next one, so none is coalesced away
            while received < (batch + 1) * 250:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
                if frame["type"] == "ping":  # the server's heartbeat
                    await send(ws, {"type": "pong"})
                    continue
                assert frame["type"] == "next", frame
                assert (
                    frame["payload"]["data"]["myTaskUpdates"]["data"]["queuePosition"] == received
                )
                received += 1
            if batch % 20 == 19:
                gc.collect()
                samples.append(process.memory_info().rss)
    assert received == 20_000
    # after warm-up, the process does not keep growing with the events delivered
    growth = samples[-1] - samples[0]
    assert growth < 4 * 1024 * 1024, [s // 1024 for s in samples]
