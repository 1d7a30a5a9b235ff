"""Two API instances sharing PostgreSQL and Redis: a subscriber on one sees everything
that happens on the other."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from subscriptions.redis_bus import RedisBus
from tests.support.backends import redis_url
from tests.support.clients import Api, note, steps, wait
from tests.support.live import live_server
from tests.support.live import test_settings as settings_for
from tests.support.realtime import Recorder, scratch_postgres

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def resolved(event: dict[str, Any]) -> bool:
    return bool(event["type"] == "APPROVAL_RESOLVED")


async def test_subscriber_on_one_instance_sees_every_event_of_a_task_run_on_another(
    tmp_path: Path,
) -> None:
    redis = redis_url()
    if redis is None:
        pytest.skip("Redis is not reachable (it is required in CI)")
    async with scratch_postgres() as database:
        # given an API-only instance and an instance that runs tasks
        watcher_settings = settings_for(tmp_path / "a", database, redis_url=redis, run_engine=False)
        worker_settings = settings_for(tmp_path / "b", database, redis_url=redis)
        async with live_server(watcher_settings) as a, live_server(worker_settings) as b:
            assert isinstance(a.app.state.agentwire.services.bus, RedisBus)  # type: ignore[union-attr]
            token = a.token()
            on_a, on_b = Api(a, token), Api(b, token)
            async with on_a.websocket() as ws_a, on_b.websocket() as ws_b:
                dashboard = Recorder(ws_a, "MyTaskUpdates")
                # when the task is submitted and approved on the other instance
                task = await on_b.submit(
                    "across", context=steps(note("a", 1), wait(100), note("b", 2, approval=True))
                )
                on_task_a = Recorder(ws_a, "TaskUpdates", taskId=task["id"], after=0)
                on_task_b = Recorder(ws_b, "TaskUpdates", taskId=task["id"], after=0)
                request = await on_task_a.wait_for(lambda e: e["type"] == "APPROVAL_REQUEST")
                await on_task_b.wait_for(lambda e: e["type"] == "APPROVAL_REQUEST")
                await on_b.call(
                    "Approve",
                    input={
                        "taskId": task["id"],
                        "approvalId": request["data"]["approvalRequest"]["id"],
                        "approved": True,
                    },
                )
                # then both watchers get the resolution, and A sees every event once
                for recorder in (on_task_a, on_task_b):
                    event = await recorder.wait_for(resolved)
                    assert event["data"]["approvalRequest"]["status"] == "APPROVED"
                await on_task_a.wait_for(lambda e: e["type"] == "COMPLETED")
                await dashboard.wait_for(lambda e: e["type"] == "COMPLETED")
                for recorder in (dashboard, on_task_a, on_task_b):
                    await recorder.close()
            log = (await on_a.call("TaskEvents", taskId=task["id"], limit=1000))["taskEvents"]
            seen = [e for e in on_task_a.events if e["seq"] is not None]
            assert [e["id"] for e in seen] == [e["id"] for e in log]
            stored = [e for e in dashboard.events if e["cursor"] is not None]
            assert [e["id"] for e in stored] == [e["id"] for e in log]
            on_a_task = await on_a.get(task["id"])
            assert on_a_task is not None and on_a_task["status"] == "COMPLETED"
