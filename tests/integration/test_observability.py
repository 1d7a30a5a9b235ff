"""Observability against a live server: /metrics moves with requests, /readyz names what failed."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from server.logs import JsonFormatter, TextFormatter
from tests.support.clients import Api, note, steps
from tests.support.live import LiveServer
from tests.support.rest import Rest

MISSING = "00000000-0000-4000-8000-000000000000"


async def scrape(server: LiveServer) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    async with httpx.AsyncClient(base_url=server.http_url) as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_a_request_moves_its_counter_and_histogram_under_the_route_template(
    server: LiveServer,
) -> None:
    alice = Rest(server, server.token())
    before = await scrape(server)
    response = await alice.request("GET", f"/api/agent/{MISSING}")
    assert response.status_code == 404
    after = await scrape(server)
    route = {"route": "/api/agent/{taskId}", "method": "GET"}
    counted = "agentwire_http_requests_total"
    assert (
        value(after, counted, **route, status="404") - value(before, counted, **route, status="404")
        == 1
    )
    timed = "agentwire_http_request_duration_seconds_count"
    assert value(after, timed, **route) - value(before, timed, **route) == 1
    # The concrete id never becomes a label.
    assert not any(MISSING in str(labels) for _, labels in after)
    errors = "agentwire_errors_total"
    assert value(after, errors, category="client") - value(before, errors, category="client") == 1


async def test_an_unauthenticated_request_counts_as_an_auth_error(server: LiveServer) -> None:
    before = await scrape(server)
    response = await Rest(server, None).request("GET", f"/api/agent/{MISSING}")
    assert response.status_code == 401
    after = await scrape(server)
    errors = "agentwire_errors_total"
    assert value(after, errors, category="auth") - value(before, errors, category="auth") == 1


async def test_unmatched_paths_share_one_label(server: LiveServer) -> None:
    before = await scrape(server)
    async with httpx.AsyncClient(base_url=server.http_url) as client:
        for n in range(3):
            assert (await client.get(f"/no-such-page-{n}")).status_code == 404
    after = await scrape(server)
    labels = {"route": "unmatched", "method": "GET", "status": "404"}
    counted = "agentwire_http_requests_total"
    assert value(after, counted, **labels) - value(before, counted, **labels) == 3


async def test_readyz_answers_503_naming_an_unreachable_redis(
    make_server: Callable[..., Any],
) -> None:
    # Port 9 on loopback: nothing listens there, so the connection is refused at once.
    async with (
        make_server(redis_url="redis://127.0.0.1:9/0", run_engine=False) as running,
        httpx.AsyncClient(base_url=running.http_url) as client,
    ):
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "ok", "redis": "unreachable"}


async def test_readyz_names_each_dependency_when_ready(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.http_url) as client:
        response = await client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready" and body["database"] == "ok"
    assert body.get("redis", "ok") == "ok"


async def test_log_lines_of_a_request_carry_its_request_id_subject_and_task(
    server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    subject = f"logged-{uuid.uuid4().hex[:8]}"
    alice = Rest(server, server.token(subject))
    logger = logging.getLogger("agentwire.test")

    # uvicorn's access line is written while the request is served: it carries the context.
    with caplog.at_level(logging.INFO, logger="uvicorn.access"), caplog.at_level(logging.INFO):
        response = await alice.request(
            "GET", f"/api/agent/{MISSING}", headers={"X-Request-ID": "trace-me-1"}
        )
        logger.info("outside any request")
    assert response.headers["x-request-id"] == "trace-me-1"
    lines = [r for r in caplog.records if getattr(r, "request_id", "") == "trace-me-1"]
    assert lines, "the request logged nothing carrying its request id"
    assert {(r.subject, r.task_id) for r in lines} == {(subject, MISSING)}  # type: ignore[attr-defined]
    outside = [r for r in caplog.records if r.getMessage() == "outside any request"]
    assert [r.request_id for r in outside] == [""]  # type: ignore[attr-defined]
    formatted = TextFormatter().format(lines[0])
    assert f"[request_id=trace-me-1 subject={subject} task_id={MISSING}]" in formatted
    entry = json.loads(JsonFormatter().format(lines[0]))
    assert (entry["request_id"], entry["subject"], entry["task_id"]) == (
        "trace-me-1",
        subject,
        MISSING,
    )


async def test_an_open_socket_moves_the_connection_gauge_and_its_duration(
    server: LiveServer,
) -> None:
    gauge, labels = "agentwire_websocket_connections", {"transport": "graphql-ws"}
    durations = "agentwire_websocket_connection_duration_seconds_count"
    before = await scrape(server)
    async with Api(server, server.token()).websocket():
        during = await scrape(server)
        assert value(during, gauge, **labels) - value(before, gauge, **labels) == 1
    async with asyncio.timeout(5):
        while True:
            after = await scrape(server)
            if value(after, durations) - value(before, durations) == 1:
                break
            await asyncio.sleep(0.02)
    assert value(after, gauge, **labels) == value(before, gauge, **labels)


async def test_a_submitted_task_moves_events_written_by_type(server: LiveServer) -> None:
    alice = Rest(server, server.token())
    written = "agentwire_events_written_total"
    before = await scrape(server)
    task = await alice.submit("counted", context=steps(note("a", 1)))
    await alice.wait_status(task["id"], "completed")
    after = await scrape(server)
    stored = await alice.events(task["id"])
    by_type: dict[str, int] = {}
    for event in stored:
        by_type[event["type"]] = by_type.get(event["type"], 0) + 1
    for event_type, count in by_type.items():
        assert (
            value(after, written, type=event_type) - value(before, written, type=event_type)
            >= count
        )
