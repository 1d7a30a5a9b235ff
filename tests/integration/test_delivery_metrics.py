"""Delivery metrics against a live server: subscriptions, resumes, messages sent and the
delay from an event's timestamp to its send, for each channel that serves subscribers."""

from __future__ import annotations

import asyncio
import json
import secrets

import httpx
from sqlalchemy import text
from websockets.asyncio.client import connect

from tests.integration.test_agui import read_run
from tests.integration.test_graphql_http_streams import SUBSCRIPTION, finished_task, read_sse
from tests.integration.test_observability import scrape, value
from tests.support.attacker import next_frame, ws_init
from tests.support.clients import Api, collect, note, steps, wait
from tests.support.live import LiveServer
from tests.support.realtime import Recorder
from tests.support.rest import Rest

OPEN, RESUMES = "agentwire_subscriptions", "agentwire_resumes_total"
SENT, DELAY = "agentwire_messages_sent_total", "agentwire_event_delivery_seconds_count"


async def until_metric(server: LiveServer, name: str, target: float, **labels: str) -> None:
    async with asyncio.timeout(10):
        while True:
            if value(await scrape(server), name, **labels) == target:
                return
            await asyncio.sleep(0.02)


async def test_a_graphql_subscription_moves_the_gauge_resumes_sends_and_delivery_delays(
    server: LiveServer,
) -> None:
    alice = Api(server, server.token())
    ws = {"channel": "graphql-ws"}
    task = await alice.submit("watched", context=steps(wait(300), note("a", 1)))
    before = await scrape(server)
    async with alice.websocket() as session:
        # given a subscriber that comes back after seq 1 (a resume)
        recorder = Recorder(session, "TaskUpdates", taskId=task["id"], after=1)
        await until_metric(server, OPEN, value(before, OPEN, **ws) + 1, **ws)
        # when the task runs to its end while it watches
        await recorder.wait_for(lambda e: e["type"] == "COMPLETED")
        during = await scrape(server)
        received = len(recorder.events)
        await recorder.close()
    # then every event it received was counted as sent, once
    assert value(during, SENT, **ws) - value(before, SENT, **ws) == received
    assert value(during, RESUMES, **ws) - value(before, RESUMES, **ws) == 1
    # the events committed after it subscribed are live deliveries with a measured delay
    delivered = value(during, DELAY) - value(before, DELAY)
    assert 1 <= delivered <= received
    assert value(during, "agentwire_event_delivery_seconds_sum") >= value(
        before, "agentwire_event_delivery_seconds_sum"
    )
    await until_metric(server, OPEN, value(before, OPEN, **ws), **ws)


async def test_a_subscription_without_a_cursor_is_not_a_resume(server: LiveServer) -> None:
    alice = Api(server, server.token())
    ws = {"channel": "graphql-ws"}
    task = await alice.submit("fresh", context=steps(note("a", 1)))
    await alice.wait_status(task["id"], "COMPLETED")
    before = await scrape(server)
    async with alice.websocket() as session:
        events = await collect(
            session, "TaskUpdates", taskId=task["id"], until=lambda e: e["type"] == "SNAPSHOT"
        )
    after = await scrape(server)
    assert [e["type"] for e in events] == ["SNAPSHOT"]
    assert value(after, RESUMES, **ws) == value(before, RESUMES, **ws)
    assert value(after, SENT, **ws) - value(before, SENT, **ws) == 1
    # a snapshot is stream control, not a delivery of an event: no delay observed
    assert value(after, DELAY) == value(before, DELAY)


async def test_sse_with_last_event_id_counts_a_resume_and_each_event_sent(
    server: LiveServer,
) -> None:
    alice = Rest(server, server.token())
    sse = {"channel": "sse"}
    task = await alice.submit("streamed", context=steps(note("a", 1), note("b", 2)))
    await alice.wait_status(task["id"], "completed")
    stored = await alice.events(task["id"])
    before = await scrape(server)
    received: list[str] = []
    async with (
        httpx.AsyncClient(base_url=server.http_url, timeout=30) as http,
        http.stream(
            "GET",
            f"/api/agent/{task['id']}/stream",
            headers={**alice.headers(), "Last-Event-ID": "1"},
        ) as response,
    ):
        assert response.status_code == 200
        async for line in response.aiter_lines():
            if line.startswith("id: "):
                received.append(line[4:])
            if len(received) == len(stored) - 1:
                break
    assert received == [str(e["seq"]) for e in stored[1:]]
    after = await scrape(server)
    assert value(after, RESUMES, **sse) - value(before, RESUMES, **sse) == 1
    assert value(after, SENT, **sse) - value(before, SENT, **sse) == len(received)
    await until_metric(server, OPEN, value(before, OPEN, **sse), **sse)


async def test_the_legacy_socket_and_long_polling_count_what_they_send(server: LiveServer) -> None:
    alice = Rest(server, server.token())
    legacy, poll = {"channel": "legacy-ws"}, {"channel": "long-poll"}
    task = await alice.submit("legacy", context=steps(note("a", 1)))
    await alice.wait_status(task["id"], "completed")
    stored = await alice.events(task["id"])
    before = await scrape(server)
    url = f"ws://127.0.0.1:{server.port}/api/agent/{task['id']}/updates?after=1"
    events: list[dict[str, object]] = []
    async with connect(url, additional_headers=alice.headers(), open_timeout=10) as socket:
        while len(events) < len(stored) - 1:
            message = json.loads(await asyncio.wait_for(socket.recv(), 10))
            if message["type"] not in ("connected", "heartbeat"):
                events.append(message)
        during = await scrape(server)
    assert [e["seq"] for e in events] == [e["seq"] for e in stored[1:]]
    assert value(during, RESUMES, **legacy) - value(before, RESUMES, **legacy) == 1
    assert value(during, SENT, **legacy) - value(before, SENT, **legacy) == len(events)
    assert value(during, OPEN, **legacy) - value(before, OPEN, **legacy) == 1
    await until_metric(server, OPEN, value(before, OPEN, **legacy), **legacy)

    polled = await alice.request("GET", f"/api/agent/{task['id']}/events?after=0")
    assert polled.status_code == 200
    after = await scrape(server)
    assert value(after, SENT, **poll) - value(before, SENT, **poll) == len(stored)


async def test_ag_ui_and_graphql_over_sse_count_what_they_send(server: LiveServer) -> None:
    alice = Api(server, server.token())
    agui, http = {"channel": "ag-ui"}, {"channel": "graphql-http"}
    task_id, seqs = await finished_task(alice)
    before = await scrape(server)
    # an AG-UI client that saw seq 1 comes back with Last-Event-ID
    frames = await read_run(alice, "GET", f"/ag-ui/tasks/{task_id}", headers={"Last-Event-ID": "1"})
    assert frames[-1][1]["type"] == "RUN_FINISHED"
    # a GraphQL-over-SSE subscriber reads the task from its first event (a start), and
    # another comes back after seq 1 (a resume)
    payloads = await read_sse(
        alice, {"query": SUBSCRIPTION, "variables": {"t": task_id, "a": 0}}, until_seq=seqs[-1]
    )
    assert [p["data"]["taskUpdates"]["seq"] for p in payloads] == seqs
    payloads = await read_sse(
        alice, {"query": SUBSCRIPTION, "variables": {"t": task_id, "a": 1}}, until_seq=seqs[-1]
    )
    assert [p["data"]["taskUpdates"]["seq"] for p in payloads] == seqs[1:]
    after = await scrape(server)
    assert value(after, RESUMES, **agui) - value(before, RESUMES, **agui) == 1
    assert value(after, SENT, **agui) - value(before, SENT, **agui) == len(seqs) - 1
    assert value(after, SENT, **http) - value(before, SENT, **http) == 2 * len(seqs) - 1
    assert value(after, RESUMES, **http) - value(before, RESUMES, **http) == 1
    await until_metric(server, OPEN, value(before, OPEN, **agui), **agui)
    await until_metric(server, OPEN, value(before, OPEN, **http), **http)


async def test_a_resume_key_that_brings_back_a_position_counts_as_a_resume(
    server: LiveServer,
) -> None:
    alice = Api(server, server.token())
    ws = {"channel": "graphql-ws"}
    task_id, _ = await finished_task(alice)
    init = {"authorization": f"Bearer {alice.token}", "resumeKey": secrets.token_urlsafe(24)}
    subscribe = {
        "id": "watch-1",
        "type": "subscribe",
        "payload": {"query": SUBSCRIPTION, "variables": {"t": task_id}},
    }
    before = await scrape(server)
    # given a client that subscribed once without a cursor (a snapshot, not a resume)
    first = await ws_init(server, init)
    assert (await next_frame(first))["type"] == "connection_ack"
    await first.send(json.dumps(subscribe))
    assert (await next_frame(first))["payload"]["data"]["taskUpdates"]["type"] == "SNAPSHOT"
    await first.close()
    assert server.app is not None
    sessions = server.app.state.agentwire.services.sessions
    async with asyncio.timeout(10):
        while True:  # the ended subscription's position is written at once, not inline
            async with sessions() as session:
                stored = text("SELECT count(*) FROM resume_positions WHERE resume_key = :key")
                if (await session.execute(stored, {"key": init["resumeKey"]})).scalar():
                    break
            await asyncio.sleep(0.02)
    middle = await scrape(server)
    assert value(middle, RESUMES, **ws) == value(before, RESUMES, **ws)
    # when it reconnects and re-sends the same operation, with the same variables
    second = await ws_init(server, init)
    assert (await next_frame(second))["type"] == "connection_ack"
    await second.send(json.dumps(subscribe))
    await until_metric(server, RESUMES, value(before, RESUMES, **ws) + 1, **ws)
    await second.close()
