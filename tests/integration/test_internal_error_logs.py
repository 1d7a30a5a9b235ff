"""An INTERNAL answer can be followed to its traceback: the line that logs the traceback
carries the answer's request id, over REST and GraphQL, in text and in JSON.

The fault is real: a task row whose status is outside the vocabulary (as a bad manual
edit or a botched migration would leave it), which no request can repair."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import Uuid, bindparam, text

from server.logs import JsonFormatter, TextFormatter
from tests.integration.test_observability import scrape, value
from tests.support.clients import note, steps
from tests.support.live import LiveServer
from tests.support.rest import Rest


async def corrupt_task(server: LiveServer) -> str:
    alice = Rest(server, server.token("corrupted"))
    task = await alice.submit("to corrupt", context=steps(note("a", 1)))
    assert server.app is not None
    sessions = server.app.state.agentwire.services.sessions
    async with sessions() as session, session.begin():
        # Raw SQL: the model's typed column would refuse the value, as it should.
        corrupt = text("UPDATE tasks SET status = 'no-such-status' WHERE id = :id")
        await session.execute(
            corrupt.bindparams(bindparam("id", type_=Uuid)), {"id": uuid.UUID(task["id"])}
        )
    return str(task["id"])


def traceback_lines(caplog: pytest.LogCaptureFixture, request_id: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.exc_info and getattr(r, "request_id", "") == request_id]


def assert_followable(record: logging.LogRecord, request_id: str) -> None:
    # text: the first line of the record names the request; the traceback follows it
    first, *rest = TextFormatter().format(record).splitlines()
    assert f"request_id={request_id}" in first
    assert any(line.startswith("Traceback") for line in rest)
    # JSON: one object holds both
    entry = json.loads(JsonFormatter().format(record))
    assert entry["request_id"] == request_id and "Traceback" in entry["traceback"]


async def test_an_internal_error_logs_its_traceback_with_the_request_id(
    make_server: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    async with make_server(run_engine=False) as server:
        task_id = await corrupt_task(server)
        token = server.token("corrupted")
        before = await scrape(server)
        with caplog.at_level(logging.ERROR):
            async with httpx.AsyncClient(base_url=server.http_url) as client:
                rest = await client.get(
                    f"/api/agent/{task_id}",
                    headers={"Authorization": f"Bearer {token}", "X-Request-ID": "internal-rest"},
                )
                graphql = await client.post(
                    "/graphql",
                    json={
                        "query": "query($id: ID!) { task(id: $id) { status } }",
                        "variables": {"id": task_id},
                    },
                    headers={"Authorization": f"Bearer {token}", "X-Request-ID": "internal-gql"},
                )
        after = await scrape(server)
    # both count as server errors (the 500, and the 200 whose error is INTERNAL)
    errors = "agentwire_errors_total"
    assert value(after, errors, category="server") - value(before, errors, category="server") == 2
    operations = "agentwire_graphql_operations_total"
    failed = {"type": "query", "outcome": "server"}
    assert value(after, operations, **failed) - value(before, operations, **failed) == 1
    # the answers say INTERNAL and point at the request id
    assert rest.status_code == 500
    assert rest.json()["error"]["code"] == "INTERNAL"
    assert rest.json()["error"]["requestId"] == rest.headers["x-request-id"] == "internal-rest"
    assert graphql.json()["errors"][0]["extensions"]["code"] == "INTERNAL"
    assert graphql.headers["x-request-id"] == "internal-gql"
    # and the logs hold each traceback on a line with that id
    for request_id in ("internal-rest", "internal-gql"):
        records = traceback_lines(caplog, request_id)
        assert records, f"no traceback logged with request id {request_id}"
        assert_followable(records[0], request_id)
