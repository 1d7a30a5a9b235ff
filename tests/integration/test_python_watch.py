"""The Python SDK's AsyncClient and watches (clients/python) against real servers: each
event exactly once, in order, across a server restart; refusals end a watch with a reason."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from agentwire_client import AgentwireError, AsyncClient, Backoff, Client, TaskEvent

from tests.e2e.monitor_server import free_port
from tests.support.clients import note, steps, wait
from tests.support.live import LiveServer

FAST = Backoff(initial=0.05, maximum=0.5)


def gated(key: str) -> dict[str, Any]:
    return steps(note(key, 1, approval=True), note(f"{key}-after", 2))


async def stored_seqs(client: AsyncClient, task_id: str) -> list[int]:
    return [event["seq"] for event in await client.task_events(task_id, limit=500)]


async def test_async_client_has_the_operations_of_client(server: LiveServer) -> None:
    async with AsyncClient(server.http_url, token=server.token()) as client:
        submitted = await client.submit_task(
            "async sdk", context=gated("k"), priority=3, idempotency_key="async-sdk-1"
        )
        assert (submitted.task, submitted.priority) == ("async sdk", 3)
        again = await client.submit_task("async sdk", idempotency_key="async-sdk-1")
        assert again.id == submitted.id
        async for event in client.watch(submitted.id, until_finished=True):
            if (approval := event.approval_request) is not None:
                assert approval["parameters"] == {"key": "k", "value": 1}
                await client.approve(
                    submitted.id, approval["id"], modified_parameters={"key": "k", "value": 5}
                )
        done = await client.task(submitted.id)
        assert done is not None and done.status == "COMPLETED"
        assert done.raw["artifacts"] == {"k": 5, "k-after": 2}
        page = await client.tasks(status="COMPLETED", first=5)
        assert [t.id for t in page.tasks] == [submitted.id]
        plan = await client.undo_plan(submitted.id)
        assert plan["possible"] is True
        with pytest.raises(AgentwireError) as refused:
            await client.submit_task("")
        assert refused.value.code == "VALIDATION"
        assert await client.task("00000000-0000-0000-0000-000000000000") is None


async def test_watch_starts_with_a_snapshot_then_every_stored_event_once(
    server: LiveServer,
) -> None:
    async with AsyncClient(server.http_url, token=server.token()) as client:
        task = await client.submit_task("watched", context=gated("w"))
        seen: list[TaskEvent] = []
        async with client.watch(task.id, until_finished=True) as watch:
            async for event in watch:
                seen.append(event)
                if (approval := event.approval_request) is not None:
                    # the request itself, or the snapshot of a task already waiting
                    await client.approve(task.id, approval["id"])
        assert seen[0].type == "SNAPSHOT" and seen[0].task is not None
        assert seen[0].task["id"] == task.id
        assert seen[-1].type == "COMPLETED" and watch.status == "closed"
        stored = await stored_seqs(client, task.id)
        first = seen[0].seq
        assert first is not None
        live = [e.seq for e in seen[1:] if e.seq is not None]
        assert live == [s for s in stored if s > first]


async def test_sync_client_watch_is_an_iterator_that_resumes_from_a_seq(
    server: LiveServer,
) -> None:
    token = server.token()

    def scenario() -> tuple[list[int], list[int]]:
        with Client(server.http_url, token=token) as client:
            task = client.submit_task("sync watch", context=steps(note("a", 1), note("b", 2)))
            with client.watch(task.id, until_finished=True) as watch:
                first = [event.seq for event in watch if event.seq is not None]
            # Resuming from a seq replays exactly what came after it (no snapshot).
            with client.watch(task.id, after=first[2], until_finished=True) as again:
                resumed = [event.seq for event in again if event.seq is not None]
            return first, resumed

    first, resumed = await asyncio.to_thread(scenario)
    assert resumed == first[3:]
    assert len(first) == len(set(first)) > 3


async def test_watch_and_watch_all_survive_a_server_restart_with_every_event_once(
    make_server: Any,
) -> None:
    port = free_port()
    user = "restarted-watcher"
    plan = steps(note("gate", 1, approval=True), wait(400), wait(400), wait(400))
    async with make_server(port=port) as first:
        token = first.token(user)
        client = AsyncClient(first.http_url, token=token, backoff=FAST)
        task = await client.submit_task("across a restart", context=plan)
        waiting = await wait_for_status(client, task.id, "AWAITING_APPROVAL")
        # watch_all resumes by cursor: start after the last event stored so far.
        cursors = [e["cursor"] for e in await client.task_events(task.id, limit=500)]
        one = client.watch(task.id, until_finished=True)
        every = client.watch_all(after=cursors[-1])
        one_seen: list[TaskEvent] = []
        all_seen: list[TaskEvent] = []
        one_done = asyncio.create_task(collect(one, one_seen, lambda e: e.ends_task))
        all_done = asyncio.create_task(
            collect(every, all_seen, lambda e: e.task_id == task.id and e.ends_task)
        )
        await until(lambda: bool(one_seen) and every.status == "open")
        await client.approve(task.id, waiting.raw["pendingApproval"]["id"])
        await until(lambda: any(e.type == "STEP_START" for e in one_seen[1:]))
    # stopped mid-task: both watches lose their socket and retry until the server is back
    await until(lambda: one.reconnects > 0 and every.reconnects > 0)
    async with make_server(port=port):
        await asyncio.wait_for(asyncio.gather(one_done, all_done), timeout=60)
        stored = await stored_seqs(client, task.id)
        await client.aclose()
    snapshot_seq = one_seen[0].seq
    assert one_seen[0].type == "SNAPSHOT" and snapshot_seq is not None
    assert [e.seq for e in one_seen[1:] if e.seq is not None] == [
        s for s in stored if s > snapshot_seq
    ]
    mine = [e.seq for e in all_seen if e.task_id == task.id and e.seq is not None]
    assert mine == [s for s in stored if s > len(cursors)]
    assert one_seen[-1].type == all_seen[-1].type == "COMPLETED"


async def test_a_refused_token_or_unknown_task_ends_the_watch_with_its_code(
    server: LiveServer,
) -> None:
    async with AsyncClient(server.http_url, token="not-a-token", backoff=FAST) as stranger:
        with pytest.raises(AgentwireError) as refused:
            await asyncio.wait_for(anext(stranger.watch_all()), timeout=10)
        assert refused.value.code == "UNAUTHENTICATED"
    async with AsyncClient(server.http_url, token=server.token(), backoff=FAST) as client:
        with pytest.raises(AgentwireError) as missing:
            unknown = client.watch("00000000-0000-0000-0000-000000000000")
            await asyncio.wait_for(anext(unknown), timeout=10)
        assert missing.value.code == "NOT_FOUND"


async def test_a_watch_gives_up_after_max_attempts_when_nothing_answers() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    async with AsyncClient(url, token="t", backoff=FAST, max_attempts=2) as client:
        started = time.monotonic()
        with pytest.raises(AgentwireError) as gone:
            await asyncio.wait_for(anext(client.watch_all()), timeout=10)
        assert gone.value.code == "UNAVAILABLE"
        assert time.monotonic() - started < 5


async def wait_for_status(client: AsyncClient, task_id: str, status: str) -> Any:
    deadline = time.monotonic() + 15
    while (task := await client.task(task_id)) is None or task.status != status:
        assert time.monotonic() < deadline, task and task.status
        await asyncio.sleep(0.02)
    return task


async def collect(watch: Any, into: list[TaskEvent], last: Any) -> None:
    async with watch:
        async for event in watch:
            into.append(event)
            if last(event):
                return


async def until(condition: Any, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_a_token_source_outlives_a_token_that_expires_during_a_watch(
    make_server: Any,
) -> None:
    # no leeway: a token is refused, and its socket closed (4403), once its exp has passed
    async with make_server(jwt_leeway_seconds=0) as server:
        await outlive_expiring_tokens(server)


async def outlive_expiring_tokens(server: LiveServer) -> None:
    user = "short-lived-tokens"
    # exp is whole seconds: ttl=2 leaves at least one second to connect
    issued: list[str] = []

    def fresh_token() -> str:
        issued.append(server.token(user, ttl=2))
        return issued[-1]

    async with AsyncClient(server.http_url, token=fresh_token, backoff=FAST) as client:
        task = await client.submit_task("outlives its token", context=gated("t"))
        watch = client.watch(task.id, until_finished=True)

        async def approve_once_the_socket_was_replaced() -> None:
            # the server closes the socket with 4403 when the token expires; the watch
            # reconnects with a new token from the source
            await until(lambda: watch.reconnects >= 1 and watch.status == "open")
            waiting = await wait_for_status(client, task.id, "AWAITING_APPROVAL")
            await client.approve(task.id, waiting.raw["pendingApproval"]["id"])

        approving = asyncio.create_task(approve_once_the_socket_was_replaced())
        seen: list[TaskEvent] = []
        await asyncio.wait_for(collect(watch, seen, lambda e: e.ends_task), timeout=30)
        await approving
        stored = await stored_seqs(client, task.id)
    first = seen[0].seq
    assert seen[0].type == "SNAPSHOT" and first is not None
    assert [e.seq for e in seen[1:] if e.seq is not None] == [s for s in stored if s > first]
    assert seen[-1].type == "COMPLETED"


async def test_a_fixed_token_that_expires_during_a_watch_ends_it_unauthenticated(
    make_server: Any,
) -> None:
    async with (
        make_server(jwt_leeway_seconds=0) as server,
        AsyncClient(server.http_url, token=server.token(ttl=3), backoff=FAST) as client,
    ):
        task = await client.submit_task("gated forever", context=gated("f"))
        seen: list[TaskEvent] = []
        watch = client.watch(task.id)
        with pytest.raises(AgentwireError) as refused:
            await asyncio.wait_for(collect(watch, seen, lambda e: False), 15)
    assert refused.value.code == "UNAUTHENTICATED"
    # Usually the socket was open (it had the snapshot) when the server ended it; on a slow
    # machine the token may have expired before the socket opened. Either way: no retry.
    assert seen == [] or seen[0].type == "SNAPSHOT"
    assert watch.reconnects == 0
