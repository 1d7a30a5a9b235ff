"""GraphQL operations by type and outcome, GraphQL errors in the error counts, and refusals
over a rate limit by class, against a live server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from tests.integration.test_observability import MISSING, scrape, value
from tests.support.clients import Api, collect, note, steps
from tests.support.live import LiveServer
from tests.support.operations import operation

OPS, ERRORS = "agentwire_graphql_operations_total", "agentwire_errors_total"


def moved(before: dict[Any, float], after: dict[Any, float], name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


async def post(server: LiveServer, token: str | None, body: dict[str, Any]) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(base_url=server.http_url) as client:
        return await client.post("/graphql", json=body, headers=headers)


async def test_each_operation_is_counted_by_type_and_the_outcome_the_client_saw(
    server: LiveServer,
) -> None:
    token = server.token()
    before = await scrape(server)
    # a query that succeeds
    ok = await post(server, token, {"query": operation("Me")})
    assert ok.status_code == 200 and "errors" not in ok.json()
    # a mutation on a task that does not exist: NOT_FOUND, answered 200 with errors
    missing = await post(
        server, token, {"query": operation("CancelTask"), "variables": {"taskId": MISSING}}
    )
    assert missing.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    # a mutation with bad input: VALIDATION
    bad = await post(
        server,
        token,
        {
            "query": operation("SubmitTask"),
            "variables": {"input": {"task": "x", "priority": 10**6}},
        },
    )
    assert bad.json()["errors"][0]["extensions"]["code"] == "VALIDATION"
    # a document that does not parse
    broken = await post(server, token, {"query": "query { me { id "})
    assert broken.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    # no credential at all
    anonymous = await post(server, None, {"query": operation("Me")})
    assert anonymous.status_code == 401
    after = await scrape(server)

    assert moved(before, after, OPS, type="query", outcome="ok") == 1
    assert moved(before, after, OPS, type="mutation", outcome="client") == 1
    assert moved(before, after, OPS, type="mutation", outcome="validation") == 1
    assert moved(before, after, OPS, type="unknown", outcome="validation") == 1
    assert moved(before, after, OPS, type="unknown", outcome="auth") == 1
    # errors answered with 200 count as errors too, the 401 once (by its status)
    assert moved(before, after, ERRORS, category="client") == 1
    assert moved(before, after, ERRORS, category="validation") == 2
    assert moved(before, after, ERRORS, category="auth") == 1


async def test_a_subscription_over_the_socket_is_an_operation(server: LiveServer) -> None:
    alice = Api(server, server.token())
    task = await alice.submit("subscribed", context=steps(note("a", 1)))
    before = await scrape(server)
    async with alice.websocket() as session:
        await collect(
            session, "TaskUpdates", taskId=task["id"], until=lambda e: e["type"] == "SNAPSHOT"
        )
        try:
            await collect(session, "TaskUpdates", taskId=MISSING, until=lambda e: True)
        except Exception as error:
            assert "not found" in str(error)
    after = await scrape(server)
    assert moved(before, after, OPS, type="subscription", outcome="ok") == 1
    assert moved(before, after, OPS, type="subscription", outcome="client") == 1


async def test_refusals_over_a_rate_limit_are_counted_by_class(
    make_server: Callable[..., Any],
) -> None:
    async with make_server(rate_limit_read="2/minute", run_engine=False) as server:
        alice = Api(server, server.token())
        before = await scrape(server)
        answers = [
            await post(server, alice.token, {"query": operation("ListTasks")}) for _ in range(3)
        ]
        after = await scrape(server)
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert moved(before, after, "agentwire_rate_limited_total", **{"class": "read"}) == 1
    assert moved(before, after, ERRORS, category="rate_limited") == 1
    assert moved(before, after, OPS, type="query", outcome="rate_limited") == 1
