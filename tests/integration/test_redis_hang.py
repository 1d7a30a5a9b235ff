"""Redis hangs (SIGSTOP: connections open, nothing answers) mid-task: requests keep their
normal speed, the engine keeps running, delivery falls back to the database and returns
to Redis after SIGCONT, with no event lost or repeated."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.integration.test_redis_outage import bus_of, until
from tests.support.clients import Api, steps, wait
from tests.support.live import LiveServer, live_server
from tests.support.live import test_settings as settings_for
from tests.support.realtime import Recorder, RedisProcess, scratch_postgres

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

# A request may wait out one Redis socket timeout (0.5 s by default) before the breaker
# opens; after that none waits on Redis at all.
FIRST_REQUESTS_WITHIN = 2.0
LATER_REQUESTS_WITHIN = 1.0


async def timed_get(server: LiveServer, token: str, path: str) -> float:
    async with httpx.AsyncClient(base_url=server.http_url, timeout=30) as client:
        started = time.perf_counter()
        response = await client.get(path, headers={"Authorization": f"Bearer {token}"})
        elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.text
    return elapsed


async def test_a_hung_redis_costs_no_request_more_than_a_moment(tmp_path: Path) -> None:
    redis = RedisProcess(tmp_path)
    await redis.start()
    try:
        async with scratch_postgres() as database:
            a_settings = settings_for(
                tmp_path / "a", database, redis_url=redis.url, run_engine=False
            )
            b_settings = settings_for(tmp_path / "b", database, redis_url=redis.url)
            async with live_server(a_settings) as a, live_server(b_settings) as b:
                watcher_bus, engine_bus = bus_of(a), bus_of(b)
                token = a.token()
                alice_a, alice_b = Api(a, token), Api(b, token)
                task = await alice_b.submit("hang", context=steps(*(wait(150) for _ in range(24))))
                path = f"/api/agent/{task['id']}"
                async with alice_a.websocket() as ws:
                    recorder = Recorder(ws, "TaskUpdates", taskId=task["id"], after=0)
                    await recorder.wait_for(lambda e: e["type"] == "STEP_COMPLETE")
                    assert not watcher_bus.degraded
                    # when Redis hangs mid-task
                    redis.pause()
                    # then the first requests wait at most a socket timeout or so
                    first = [await timed_get(server, token, path) for server in (a, b, a, b)]
                    assert max(first) < FIRST_REQUESTS_WITHIN, first
                    # both instances find Redis hung and fall back to the database
                    await until(lambda: watcher_bus.degraded and engine_bus.degraded, 5)
                    later = [await timed_get(server, token, path) for server in (a, b) * 5]
                    assert max(later) < LATER_REQUESTS_WITHIN, later
                    # and /readyz names Redis within a second or so
                    async with httpx.AsyncClient(base_url=a.http_url, timeout=30) as client:
                        started = time.perf_counter()
                        ready = await client.get("/readyz")
                        assert time.perf_counter() - started < 1.5
                    assert (ready.status_code, ready.json()["redis"]) == (503, "unreachable")
                    # and the engine on b keeps running: events still reach a's subscriber
                    during = len(recorder.events)
                    await until(lambda: len(recorder.events) >= during + 4, timeout=10)
                    # when Redis runs again, delivery returns to it
                    redis.resume()
                    await until(lambda: not (watcher_bus.degraded or engine_bus.degraded), 10)
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
