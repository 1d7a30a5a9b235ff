"""AG-UI over SSE against a real server: submit, interrupt, resume, and Last-Event-ID."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import jsonpatch
import orjson
from ag_ui.core import Event as AguiEvent
from pydantic import TypeAdapter

from tests.support.clients import Api

EVENT = TypeAdapter(AguiEvent)

APPROVAL_STEPS = [
    {"name": "first", "action": "note", "params": {"key": "a", "value": 1}},
    {
        "name": "second",
        "action": "note",
        "params": {"key": "b", "value": 2},
        "requiresApproval": True,
    },
]


def run_input(thread_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "threadId": thread_id,
        "runId": str(uuid.uuid4()),
        "messages": [],
        **fields,
    }


async def read_run(
    api: Api, method: str, path: str, *, body: Any = None, headers: dict[str, str] | None = None
) -> list[tuple[int | None, dict[str, Any]]]:
    """Every (id, event) of one AG-UI stream, each validated by the protocol's own models."""
    frames: list[tuple[int | None, dict[str, Any]]] = []
    request_headers = {"Authorization": f"Bearer {api.token}", "Accept": "text/event-stream"}
    request_headers.update(headers or {})
    async with (
        httpx.AsyncClient(base_url=api.server.http_url, timeout=30) as client,
        client.stream(method, path, json=body, headers=request_headers) as response,
    ):
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        seq: int | None = None
        async for line in response.aiter_lines():
            if line.startswith("id: "):
                seq = int(line[4:])
            elif line.startswith("data: "):
                event = orjson.loads(line[6:])
                EVENT.validate_python(event)
                frames.append((seq, event))
                seq = None
    return frames


def final_state(frames: list[tuple[int | None, dict[str, Any]]]) -> dict[str, Any]:
    """The snapshot with every delta applied, as an AG-UI client keeps it."""
    state: dict[str, Any] = {}
    for _, event in frames:
        if event["type"] == "STATE_SNAPSHOT":
            state = event["snapshot"]
        elif event["type"] == "STATE_DELTA":
            state = jsonpatch.apply_patch(state, event["delta"])
    return state


def types(frames: list[tuple[int | None, dict[str, Any]]]) -> list[str]:
    return [event["type"] for _, event in frames]


async def test_a_task_is_submitted_interrupted_by_its_approval_and_resumed(alice: Api) -> None:
    # given a new thread whose task's second step needs approval
    thread = str(uuid.uuid4())
    body = run_input(
        thread,
        messages=[{"id": "m1", "role": "user", "content": "two notes"}],
        forwardedProps={"context": {"steps": APPROVAL_STEPS}},
    )
    # when it runs
    first = await read_run(alice, "POST", "/ag-ui/tasks", body=body)
    # then the run opens with the state and ends with an interrupt naming the approval
    assert types(first)[:2] == ["RUN_STARTED", "STATE_SNAPSHOT"]
    assert first[0][1]["threadId"] == thread
    finished = first[-1][1]
    assert finished["type"] == "RUN_FINISHED"
    assert finished["outcome"]["type"] == "interrupt"
    (interrupt,) = finished["outcome"]["interrupts"]
    task = await alice.get(thread)
    assert task is not None and task["status"] == "AWAITING_APPROVAL"
    assert interrupt["reason"] == "approval"
    assert interrupt["expiresAt"]
    assert interrupt["responseSchema"]["required"] == ["approved"]
    # the changed parameters must follow the note action's declared schema
    parameters = interrupt["responseSchema"]["properties"]["modifiedParameters"]
    assert "key" in parameters["properties"]
    started = [e["stepName"] for _, e in first if e["type"] == "STEP_STARTED"]
    ended = [e["stepName"] for _, e in first if e["type"] == "STEP_FINISHED"]
    assert started == ended

    # when the interrupt is answered with changed parameters
    resume = run_input(
        thread,
        resume=[
            {
                "interruptId": interrupt["id"],
                "status": "resolved",
                "payload": {"approved": True, "modifiedParameters": {"key": "b", "value": 3}},
            }
        ],
    )
    second = await read_run(alice, "POST", f"/ag-ui/tasks/{thread}", body=resume)
    # then the task runs to the end and the run finishes with its result
    assert second[-1][1]["type"] == "RUN_FINISHED"
    assert second[-1][1]["outcome"]["type"] == "success"
    assert second[-1][1]["result"]["artifacts"] == {"a": 1, "b": 3}
    state = final_state(second)
    assert state["status"] == "completed"
    assert [step["status"] for step in state["steps"]] == ["completed", "completed"]
    assert state["approvals"][interrupt["id"]]["status"] == "modified"


async def test_last_event_id_continues_with_every_event_once(alice: Api) -> None:
    # given a finished task watched once from the start
    thread = str(uuid.uuid4())
    steps = [
        {"name": f"n{i}", "action": "note", "params": {"key": f"k{i}", "value": i}}
        for i in range(3)
    ]
    body = run_input(thread, forwardedProps={"task": "three notes", "context": {"steps": steps}})
    whole = await read_run(alice, "POST", "/ag-ui/tasks", body=body)
    assert whole[-1][1]["type"] == "RUN_FINISHED"
    task = await alice.get(thread)
    assert task is not None
    # when a client that saw events up to seq 3 reconnects with Last-Event-ID
    replay = await read_run(alice, "GET", f"/ag-ui/tasks/{thread}", headers={"Last-Event-ID": "3"})
    # then it gets no snapshot, and exactly the events after seq 3, in order, to the end
    ids = [seq for seq, _ in replay if seq is not None]
    assert "STATE_SNAPSHOT" not in types(replay)
    assert ids == sorted(set(ids)) and ids[0] == 4
    events = await alice.call("TaskEvents", taskId=thread, after=3, limit=100)
    stored = [event["seq"] for event in events["taskEvents"]]
    assert ids == stored
    assert replay[-1][1]["type"] == "RUN_FINISHED"
    # and the deltas bring the state the client had to the task as it is now
    assert final_state(whole)["status"] == "completed"
    assert [s["progress"] for s in final_state(whole)["steps"]] == [1.0, 1.0, 1.0]


async def test_a_cancelled_task_ends_its_run_cancelled(alice: Api) -> None:
    thread = str(uuid.uuid4())
    body = run_input(
        thread,
        forwardedProps={"task": "wait", "context": {"steps": APPROVAL_STEPS}},
    )
    await read_run(alice, "POST", "/ag-ui/tasks", body=body)
    await alice.call("CancelTask", taskId=thread)
    frames = await read_run(alice, "GET", f"/ag-ui/tasks/{thread}")
    assert frames[-1][1]["outcome"] == {"type": "cancelled"}


async def test_bad_input_is_refused_before_anything_is_stored(alice: Api, bob: Api) -> None:
    headers = {"Authorization": f"Bearer {alice.token}"}
    async with httpx.AsyncClient(base_url=alice.server.http_url, timeout=30) as client:
        not_a_uuid = await client.post("/ag-ui/tasks", json=run_input("thread-1"), headers=headers)
        assert not_a_uuid.status_code == 422
        assert not_a_uuid.json()["error"]["details"][0]["field"] == "threadId"
        no_text = await client.post(
            "/ag-ui/tasks", json=run_input(str(uuid.uuid4())), headers=headers
        )
        assert no_text.status_code == 422
        assert "forwardedProps.task" in no_text.json()["error"]["hint"]
        unknown = str(uuid.uuid4())
        resume_unknown = await client.post(
            f"/ag-ui/tasks/{unknown}",
            json=run_input(unknown, resume=[{"interruptId": unknown, "status": "cancelled"}]),
            headers=headers,
        )
        assert resume_unknown.status_code == 404
        anonymous = await client.get("/ag-ui/capabilities")
        assert anonymous.status_code == 401
        capabilities = await client.get("/ag-ui/capabilities", headers=headers)
        assert capabilities.json()["transport"]["resumable"] is True
    assert await alice.get(unknown) is None
    # another user's thread is not found, and reveals nothing
    thread = str(uuid.uuid4())
    await read_run(
        alice,
        "POST",
        "/ag-ui/tasks",
        body=run_input(
            thread, forwardedProps={"task": "mine", "context": {"steps": APPROVAL_STEPS}}
        ),
    )
    async with httpx.AsyncClient(base_url=bob.server.http_url, timeout=30) as client:
        foreign = await client.get(
            f"/ag-ui/tasks/{thread}", headers={"Authorization": f"Bearer {bob.token}"}
        )
    assert foreign.status_code == 404
