"""Redis stops mid-task: delivery falls back to reading the database, then returns to Redis,
with no event lost or repeated."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from subscriptions.redis_bus import RedisBus
from tests.support.clients import Api, steps, wait
from tests.support.live import LiveServer, live_server
from tests.support.live import test_settings as settings_for
from tests.support.realtime import Recorder, RedisProcess, scratch_postgres

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def bus_of(server: LiveServer) -> RedisBus:
    assert server.app is not None
    bus = server.app.state.agentwire.services.bus
    assert isinstance(bus, RedisBus)
    return bus


async def until(condition: Callable[[], bool], timeout: float) -> None:
    """Poll `condition` (state of another component, not an event we could await)."""
    async with asyncio.timeout(timeout):
        while True:
            if condition():
                return
            await asyncio.sleep(0.02)


async def test_redis_outage_falls_back_to_the_database_and_back(tmp_path: Path) -> None:
    redis = RedisProcess(tmp_path)
    await redis.start()
    try:
        async with scratch_postgres() as database:
            a_settings = settings_for(
                tmp_path / "a", database, redis_url=redis.url, run_engine=False
            )
            b_settings = settings_for(tmp_path / "b", database, redis_url=redis.url)
            async with live_server(a_settings) as a, live_server(b_settings) as b:
                watcher_bus = bus_of(a)
                token = a.token()
                alice_a, alice_b = Api(a, token), Api(b, token)
                task = await alice_b.submit(
                    "outage", context=steps(*(wait(120) for _ in range(24)))
                )
                async with alice_a.websocket() as ws:
                    recorder = Recorder(ws, "TaskUpdates", taskId=task["id"], after=0)
                    await recorder.wait_for(lambda e: e["type"] == "STEP_COMPLETE")
                    assert not watcher_bus.degraded
                    # when Redis stops mid-task
                    await redis.stop()
                    await until(lambda: watcher_bus.degraded, timeout=5)
                    during = len(recorder.events)
                    # then events keep arriving, read from the database
                    await until(lambda: len(recorder.events) >= during + 4, timeout=5)
                    # and when Redis is back, delivery returns to it
                    await redis.start()
                    await until(lambda: not watcher_bus.degraded, timeout=10)
                    await recorder.wait_for(lambda e: e["type"] == "COMPLETED", timeout=30)
                    await recorder.close()
                log = (await alice_a.call("TaskEvents", taskId=task["id"], limit=1000))[
                    "taskEvents"
                ]
                seen = [e for e in recorder.events if e["seq"] is not None]
                assert [e["seq"] for e in seen] == list(range(1, len(log) + 1))
                assert [e["id"] for e in seen] == [e["id"] for e in log]
    finally:
        await redis.stop()
