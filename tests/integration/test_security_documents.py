"""A small document whose fragments each spread the next one twice expands to 2^n
selections: every limit must refuse it in time linear in its size, over HTTP and sockets,
while the instance keeps answering others."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from schema.build import MAX_ALIASES
from schema.complexity import MAX_OBJECTS
from tests.support.attacker import bearer, gql, next_frame, ws_init
from tests.support.live import LiveServer

LEVELS = 30
# Well under what an exponential walk of 2^30 selections could do; a linear one takes ms.
BOUND = 5.0


def doubling(leaf: str, root: str = 'task(id: "00000000-0000-0000-0000-000000000000")') -> str:
    fragments = [f"fragment F{i} on Task {{ ...F{i + 1} ...F{i + 1} }}" for i in range(LEVELS)]
    fragments.append(f"fragment F{LEVELS} on Task {{ {leaf} }}")
    return f"{{ {root} {{ ...F0 }} }} " + " ".join(fragments)


ALIASED = doubling("a: id")
LISTED = doubling("logs { id }", root="tasks(first: 100) { edges { node")
LISTED = LISTED.replace("{ ...F0 } }", "{ ...F0 } } } }", 1)


async def healthz_while(server: LiveServer, attack: Any) -> Any:
    """Run `attack` and, meanwhile, check the instance still answers `/healthz`."""
    async with httpx.AsyncClient(timeout=BOUND) as client:
        attacking = asyncio.ensure_future(asyncio.wait_for(attack, BOUND))
        health = await client.get(f"http://127.0.0.1:{server.port}/healthz")
        assert health.status_code == 200
        return await attacking


async def test_fragment_doubling_is_refused_over_http(server: LiveServer) -> None:
    headers = bearer(server.token())
    aliased = await healthz_while(server, gql(server, ALIASED, headers=headers))
    errors = aliased.json()["errors"]
    assert [(e["message"], e["extensions"]["code"]) for e in errors] == [
        (f"{2**LEVELS} aliases found. Allowed: {MAX_ALIASES}", "TOO_MANY_ALIASES")
    ]
    listed = await healthz_while(server, gql(server, LISTED, headers=headers))
    errors = listed.json()["errors"]
    assert [e["extensions"]["code"] for e in errors] == ["QUERY_TOO_LARGE"]
    expected = 100 + 100 * 2**LEVELS * 500
    assert errors[0]["message"].startswith(
        f"this operation could return about {expected} objects; the limit is {MAX_OBJECTS}"
    )
    # and nothing ran: the user has no tasks
    count = await gql(server, "{ tasks { totalCount } }", headers=headers)
    assert count.json() == {"data": {"tasks": {"totalCount": 0}}}


async def test_fragment_doubling_is_refused_over_a_socket(server: LiveServer) -> None:
    socket = await ws_init(server, {"authorization": f"Bearer {server.token()}"})
    try:
        assert (await next_frame(socket))["type"] == "connection_ack"
        subscribe = {"id": "1", "type": "subscribe", "payload": {"query": ALIASED}}
        await socket.send(json.dumps(subscribe))
        frame = await healthz_while(server, next_frame(socket))
        assert frame["type"] == "error"
        assert [(e["message"], e["extensions"]["code"]) for e in frame["payload"]] == [
            (f"{2**LEVELS} aliases found. Allowed: {MAX_ALIASES}", "TOO_MANY_ALIASES")
        ]
    finally:
        await socket.close()
