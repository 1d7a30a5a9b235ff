"""Refused work is still counted (issue #10 item 5).

A refused batch spends the write budget; failed authentications are throttled per
client before any lookup; and the client is the TCP peer unless a trusted proxy says
otherwise in X-Forwarded-For.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from db.models import Task
from tests.support.attacker import bearer, first_error, gql, http, rows_of, wait_for_audit
from tests.support.live import LiveServer

APPROVE_BATCH = """
mutation ($input: ApproveBatchInput!) { approveBatch(input: $input) { batchId } }
"""


def random_api_key() -> str:
    return f"aw_{secrets.token_hex(4)}_{secrets.token_urlsafe(32)}"


@contextmanager
def statements_about(server: LiveServer, table: str) -> Iterator[list[str]]:
    """The SQL statements the server runs that name `table`, while inside the block."""
    assert server.app is not None
    engine = server.app.state.agentwire.services.sessions.kw["bind"].sync_engine
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if table in statement:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


async def test_refused_batches_spend_the_write_budget(make_server: Any) -> None:
    async with make_server(rate_limit_write="10/minute") as server:
        headers = bearer(server.token())
        unknown = {"taskId": str(uuid.uuid4()), "approvalId": str(uuid.uuid4()), "approved": True}
        # when: batches that every check refuses, one after the other
        codes = []
        for _ in range(14):
            response = await gql(
                server, APPROVE_BATCH, {"input": {"items": [unknown]}}, headers=headers
            )
            codes.append(first_error(response)[0])
        # then: after the budget, the limit answers, not the checks
        assert codes == ["NOT_FOUND"] * 10 + ["RATE_LIMITED"] * 4
        assert response.status_code == 429
        assert int(response.headers["Retry-After"]) > 0
        assert await rows_of(server, Task) == []


async def test_a_batch_counts_one_write_per_answer_before_its_checks(make_server: Any) -> None:
    async with make_server(rate_limit_write="6/minute") as server:
        headers = bearer(server.token())
        items = [
            {"taskId": str(uuid.uuid4()), "approvalId": str(uuid.uuid4()), "approved": True}
            for _ in range(4)
        ]
        first = await gql(server, APPROVE_BATCH, {"input": {"items": items}}, headers=headers)
        assert first_error(first)[0] == "NOT_FOUND"
        # 4 of 6 spent: a second batch of 4 is over the budget before any check
        second = await gql(server, APPROVE_BATCH, {"input": {"items": items}}, headers=headers)
        assert first_error(second)[0] == "RATE_LIMITED"


async def test_guessed_api_keys_are_throttled_before_they_reach_the_database(
    make_server: Any,
) -> None:
    async with make_server(rate_limit_auth_failure="5/minute") as server:
        with statements_about(server, "api_keys") as lookups:
            # when: 20 random keys from one client, over REST and GraphQL
            statuses = []
            for attempt in range(20):
                if attempt % 2:
                    response = await http(
                        server, "GET", "/api/agent/history", headers={"X-API-Key": random_api_key()}
                    )
                else:
                    response = await gql(
                        server, "{ me { id } }", headers={"X-API-Key": random_api_key()}
                    )
                statuses.append(response.status_code)
        # then: five lookups, then refusals that cost no statement at all
        assert statuses == [401] * 5 + [429] * 15
        assert len(lookups) == 5
        assert not [s for s in lookups if s.lstrip().upper().startswith("UPDATE")]
        graphql = await gql(server, "{ me { id } }", headers={"X-API-Key": random_api_key()})
        assert graphql.status_code == 429
        assert int(graphql.headers["Retry-After"]) > 0
        assert first_error(graphql)[0] == "RATE_LIMITED"
        rest = await http(
            server, "GET", "/api/agent/history", headers={"X-API-Key": random_api_key()}
        )
        assert rest.status_code == 429
        assert rest.json()["error"]["code"] == "RATE_LIMITED"


async def test_a_forged_x_forwarded_for_does_not_make_a_new_client(make_server: Any) -> None:
    async with make_server(rate_limit_auth_failure="3/minute") as server:
        statuses = []
        for number in range(8):
            forged = {"X-API-Key": random_api_key(), "X-Forwarded-For": f"203.0.113.{number}"}
            statuses.append(
                (await http(server, "GET", "/api/agent/history", headers=forged)).status_code
            )
        assert statuses == [401] * 3 + [429] * 5
        entries = await wait_for_audit(server, count=3, action="auth.failed")
        assert {e.details["client"] for e in entries} == {"127.0.0.1"}


async def test_a_trusted_proxy_names_the_client(make_server: Any) -> None:
    async with make_server(
        rate_limit_auth_failure="3/minute", trusted_proxies="127.0.0.1"
    ) as server:
        statuses = []
        for number in range(8):
            behind = {"X-API-Key": random_api_key(), "X-Forwarded-For": f"203.0.113.{number}"}
            statuses.append(
                (await http(server, "GET", "/api/agent/history", headers=behind)).status_code
            )
        # each forwarded address is its own client, under its own limit
        assert statuses == [401] * 8
        entries = await wait_for_audit(server, count=8, action="auth.failed")
        assert {e.details["client"] for e in entries} == {f"203.0.113.{n}" for n in range(8)}
