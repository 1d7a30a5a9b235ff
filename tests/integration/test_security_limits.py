"""Rate limits per principal and operation class, on each transport, in memory and in Redis."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest
from redis.asyncio import Redis
from websockets.exceptions import ConnectionClosed

from resolvers.limits import RateLimiter
from tests.support.attacker import bearer, first_error, gql, next_frame, ws_init
from tests.support.backends import redis_url
from tests.support.operations import operation

READ = "{ tasks { totalCount } }"
SUBMIT = 'mutation { submitTask(input: {task: "t"}) { id } }'
RETRY = re.compile(r"retry after (\d+) seconds$")


def subscribe(op_id: str, task_id: str) -> str:
    payload = {"query": operation("TaskUpdates"), "variables": {"taskId": task_id}}
    return json.dumps({"id": op_id, "type": "subscribe", "payload": payload})


async def test_reads_over_the_limit_get_429_with_rate_headers(make_server: Any) -> None:
    async with make_server(rate_limit_read="3/minute") as server:
        alice, bob = bearer(server.token()), bearer(server.token())
        remaining = []
        for _ in range(3):
            response = await gql(server, READ, headers=alice)
            assert response.status_code == 200
            assert response.headers["ratelimit-limit"] == "3"
            assert response.headers["ratelimit-policy"] == "3;w=60"
            remaining.append(response.headers["ratelimit-remaining"])
        assert remaining == ["2", "1", "0"]
        # when
        refused = await gql(server, READ, headers=alice)
        # then
        assert refused.status_code == 429
        code, message = first_error(refused)
        assert code == "RATE_LIMITED"
        match = RETRY.search(message)
        assert match is not None
        assert message.startswith("too many reads: the limit is 3 per 60 seconds; ")
        assert refused.headers["retry-after"] == match.group(1)
        assert 1 <= int(match.group(1)) <= 60
        assert refused.headers["ratelimit-remaining"] == "0"
        # and another principal has its own budget
        assert (await gql(server, READ, headers=bob)).status_code == 200


async def test_writes_over_the_limit_are_refused_and_change_nothing(make_server: Any) -> None:
    async with make_server(rate_limit_write="2/minute") as server:
        alice = bearer(server.token())
        for _ in range(2):
            assert (await gql(server, SUBMIT, headers=alice)).status_code == 200
        refused = await gql(server, SUBMIT, headers=alice)
        assert refused.status_code == 429
        code, message = first_error(refused)
        assert code == "RATE_LIMITED"
        assert message.startswith("too many writes: the limit is 2 per 60 seconds; ")
        counted = await gql(server, READ, headers=alice)
        assert counted.json() == {"data": {"tasks": {"totalCount": 2}}}


async def test_a_subscribe_over_the_limit_closes_the_socket_with_4429(make_server: Any) -> None:
    async with make_server(rate_limit_subscribe="2/minute") as server:
        token = server.token()
        created = await gql(server, SUBMIT, headers=bearer(token))
        task_id = created.json()["data"]["submitTask"]["id"]
        socket = await ws_init(server, {"authorization": f"Bearer {token}"})
        assert (await next_frame(socket))["type"] == "connection_ack"
        for op_id in ("1", "2"):
            await socket.send(subscribe(op_id, task_id))
            frames = [await next_frame(socket) for _ in range(1)]
            while frames[-1].get("id") != op_id and len(frames) < 100:
                frames.append(await next_frame(socket))
            assert frames[-1] == {"id": op_id, "type": "next", "payload": frames[-1]["payload"]}
        # when
        await socket.send(subscribe("3", task_id))
        # then
        with pytest.raises(ConnectionClosed) as closed:
            for _ in range(1000):
                await next_frame(socket)
        received = closed.value.rcvd
        assert received is not None
        assert received.code == 4429
        assert re.fullmatch(r"too many subscriptions; retry after \d+ s", received.reason)


async def test_a_socket_over_its_message_limit_is_closed_and_others_are_not(
    make_server: Any,
) -> None:
    async with make_server(rate_limit_ws_message="5/minute") as server:
        token = server.token()
        socket = await ws_init(server, {"authorization": f"Bearer {token}"})
        assert (await next_frame(socket))["type"] == "connection_ack"
        for _ in range(4):  # connection_init was the first of five
            await socket.send(json.dumps({"type": "ping"}))
            assert (await next_frame(socket))["type"] == "pong"
        await socket.send(json.dumps({"type": "ping"}))
        with pytest.raises(ConnectionClosed) as closed:
            await next_frame(socket)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4429
        assert re.fullmatch(r"too many messages; retry after \d+ s", closed.value.rcvd.reason)
        # the limit is per connection: the same user's next socket works
        fresh = await ws_init(server, {"authorization": f"Bearer {token}"})
        assert (await next_frame(fresh))["type"] == "connection_ack"
        await fresh.close()


async def test_limits_in_redis_are_shared_by_every_instance(make_server: Any) -> None:
    url = redis_url()
    if url is None:
        pytest.skip("Redis is not reachable (CI requires it)")
    settings = {"redis_url": url, "rate_limit_read": "3/minute"}
    async with make_server(**settings) as first, make_server(**settings) as second:
        token = first.token()
        assert (await gql(first, READ, headers=bearer(token))).status_code == 200
        assert (await gql(first, READ, headers=bearer(token))).status_code == 200
        assert (await gql(second, READ, headers=bearer(token))).status_code == 200
        refused = await gql(second, READ, headers=bearer(token))
        assert refused.status_code == 429
        assert first_error(refused)[0] == "RATE_LIMITED"


async def test_an_unreachable_limit_store_lets_requests_through() -> None:
    # Nothing listens on port 1: every hit fails to connect, and the limiter fails open.
    limiter = RateLimiter.create(redis_url="redis://127.0.0.1:1/0", limits={"read": "1/minute"})
    try:
        assert [await limiter.hit("read", "someone") for _ in range(3)] == [None, None, None]
    finally:
        await limiter.close()


async def test_redis_limiter_counts_in_redis() -> None:
    url = redis_url()
    if url is None:
        pytest.skip("Redis is not reachable (CI requires it)")
    limits = {"write": "2/minute", "ws_message": "1/minute"}
    limiter = RateLimiter.create(redis_url=url, limits=limits)
    key, connection = f"test-{uuid.uuid4().hex}", f"conn-{uuid.uuid4().hex}"
    try:
        decisions = [await limiter.hit("write", key) for _ in range(3)]
        assert [(d.allowed, d.remaining) for d in decisions if d] == [
            (True, 1),
            (True, 0),
            (False, 0),
        ]
        frames = [await limiter.hit("ws_message", connection) for _ in range(2)]
        assert [d.allowed for d in frames if d] == [True, False]
        client = Redis.from_url(url)
        try:
            assert await client.keys(f"*{key}*")
            # per-connection counters stay in process memory: no round trip per frame
            assert await client.keys(f"*{connection}*") == []
        finally:
            await client.aclose()
    finally:
        await limiter.close()


async def test_every_read_use_case_counts_against_the_read_limit(make_server: Any) -> None:
    async with make_server(rate_limit_read="2/minute") as server:
        token = bearer(server.token())
        assert (await gql(server, "{ me { subject } }", headers=token)).status_code == 200
        assert (await gql(server, "{ approvals { id } }", headers=token)).status_code == 200
        refused = await gql(server, "{ me { subject } }", headers=token)
        assert refused.status_code == 429
        assert first_error(refused)[0] == "RATE_LIMITED"


@pytest.mark.parametrize(
    "document",
    ["{ __typename }", "{ __schema { queryType { name } } }", "{ me { subject "],
    ids=["typename", "introspection", "unparsable"],
)
async def test_a_request_that_calls_no_resolver_still_counts_one_read(
    make_server: Any, document: str
) -> None:
    async with make_server(rate_limit_read="3/minute") as server:
        alice = bearer(server.token())
        remaining = []
        for _ in range(3):
            response = await gql(server, document, headers=alice)
            assert response.status_code == 200
            remaining.append(response.headers["ratelimit-remaining"])
        assert remaining == ["2", "1", "0"]
        refused = await gql(server, document, headers=alice)
        assert refused.status_code == 429
        code, message = first_error(refused)
        assert code == "RATE_LIMITED"
        assert message.startswith("too many reads: the limit is 3 per 60 seconds; ")
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        # a real read is refused too: the budget is one
        assert (await gql(server, READ, headers=alice)).status_code == 429
