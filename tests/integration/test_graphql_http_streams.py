"""Subscriptions over plain HTTP: GraphQL over SSE (graphql-sse) and Apollo's multipart
subscriptions, against a real server."""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from tests.support.clients import Api

SUBSCRIPTION = "subscription($t: ID!, $a: Int) { taskUpdates(taskId: $t, after: $a) { seq type } }"
STEPS = [
    {"name": f"n{i}", "action": "note", "params": {"key": f"k{i}", "value": i}} for i in range(2)
]


async def finished_task(api: Api) -> tuple[str, list[int]]:
    task = await api.submit("two notes", context={"steps": STEPS})
    await api.wait_for(task["id"], lambda t: t["status"] == "COMPLETED")
    events = await api.call("TaskEvents", taskId=task["id"], after=0, limit=100)
    return task["id"], [event["seq"] for event in events["taskEvents"]]


async def read_sse(api: Api, body: dict[str, Any], *, until_seq: int) -> list[dict[str, Any]]:
    payloads: list[dict[str, Any]] = []
    headers = {"Authorization": f"Bearer {api.token}", "Accept": "text/event-stream"}
    async with (
        httpx.AsyncClient(timeout=30) as client,
        client.stream("POST", api.server.graphql_url, json=body, headers=headers) as response,
    ):
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        async for line in response.aiter_lines():
            if line.startswith("data: ") and line[6:].strip():
                payload = orjson.loads(line[6:])
                payloads.append(payload)
                event = (payload.get("data") or {}).get("taskUpdates") or {}
                if payload.get("errors") or event.get("seq") == until_seq:
                    break
    return payloads


async def test_graphql_over_sse_replays_a_task_from_a_cursor(alice: Api) -> None:
    task_id, seqs = await finished_task(alice)
    payloads = await read_sse(
        alice,
        {"query": SUBSCRIPTION, "variables": {"t": task_id, "a": 1}},
        until_seq=seqs[-1],
    )
    assert [p["data"]["taskUpdates"]["seq"] for p in payloads] == seqs[1:]


async def test_graphql_over_sse_refuses_another_users_task_and_anonymous_callers(
    alice: Api, bob: Api
) -> None:
    task_id, seqs = await finished_task(alice)
    payloads = await read_sse(
        bob, {"query": SUBSCRIPTION, "variables": {"t": task_id, "a": 0}}, until_seq=seqs[-1]
    )
    assert payloads[0]["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    async with httpx.AsyncClient(timeout=30) as client:
        anonymous = await client.post(
            alice.server.graphql_url,
            json={"query": SUBSCRIPTION, "variables": {"t": task_id}},
            headers={"Accept": "text/event-stream"},
        )
    assert anonymous.status_code == 401


async def test_multipart_subscription_streams_each_event_as_a_part(alice: Api) -> None:
    task_id, seqs = await finished_task(alice)
    headers = {
        "Authorization": f"Bearer {alice.token}",
        "Accept": "multipart/mixed;subscriptionSpec=1.0, application/json",
    }
    body = {"query": SUBSCRIPTION, "variables": {"t": task_id, "a": 0}}
    seen: list[int] = []
    buffer = b""
    async with (
        httpx.AsyncClient(timeout=30) as client,
        client.stream("POST", alice.server.graphql_url, json=body, headers=headers) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("multipart/mixed")
        async for chunk in response.aiter_bytes():
            buffer += chunk
            for part in buffer.split(b"\r\n\r\n")[1:]:
                text = part.split(b"\r\n--", 1)[0].strip()
                if text.startswith(b"{"):
                    payload = orjson.loads(text).get("payload") or {}
                    seq = ((payload.get("data") or {}).get("taskUpdates") or {}).get("seq")
                    if seq is not None and seq not in seen:
                        seen.append(seq)
            if seen and seen[-1] == seqs[-1]:
                break
    assert seen == seqs
