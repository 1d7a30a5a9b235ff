"""cancelTask(mode): IMMEDIATE stops the running step; AFTER_STEP lets it finish first."""

from __future__ import annotations

import uuid

from tests.support.clients import Api, note, steps, wait
from tests.support.live import LiveServer
from tests.support.rest import Rest, assert_error


async def test_after_step_lets_the_running_step_finish_and_starts_no_other(
    server: LiveServer,
) -> None:
    api = Api(server, server.token(f"cancel-{uuid.uuid4().hex[:8]}"))
    task = await api.submit("two steps", context=steps(wait(800, name="long"), note("b", 2)))
    await api.wait_for(task["id"], lambda t: t["steps"][0]["status"] == "RUNNING")
    # when
    await api.call("CancelTask", taskId=task["id"], mode="AFTER_STEP")
    # then
    final = await api.wait_status(task["id"], "CANCELLED")
    assert [s["status"] for s in final["steps"]] == ["COMPLETED", "CANCELLED"]
    assert final["steps"][0]["result"] == {"waitedMs": 800}
    assert final["artifacts"] == {}


async def test_immediate_stops_the_running_step_and_a_bad_mode_is_422(server: LiveServer) -> None:
    token = server.token(f"cancel-{uuid.uuid4().hex[:8]}")
    api, rest = Api(server, token), Rest(server, token)
    task = await api.submit("two steps", context=steps(wait(5000, name="long"), note("b", 2)))
    await api.wait_for(task["id"], lambda t: t["steps"][0]["status"] == "RUNNING")
    bad = await rest.request("DELETE", f"/api/agent/{task['id']}?mode=later")
    assert_error(bad, 422, "VALIDATION", "validation_error", field="mode")
    # when
    response = await rest.request("DELETE", f"/api/agent/{task['id']}?mode=immediate")
    # then
    assert response.status_code == 200
    final = await api.wait_status(task["id"], "CANCELLED")
    assert [s["status"] for s in final["steps"]] == ["CANCELLED", "CANCELLED"]
