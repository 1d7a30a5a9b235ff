"""Prometheus metrics: every agentwire metric is defined here.

HTTP requests are recorded by ASGI middleware; the real-time path, the engine, the rate
limiter and the GraphQL layer report through the port in subscriptions/telemetry.py,
which `PrometheusRecorder` implements (server/metrics_state.py adds the pool and the
figures read at scrape time). Labels are bounded: the route is the matched route
template (never a concrete path with ids), unmatched paths share one label. Under
`--workers N` set `PROMETHEUS_MULTIPROC_DIR` to an empty directory before start;
`/metrics` then aggregates every worker's files.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.routing import BaseRoute, Match, Mount, Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from subscriptions import telemetry

HTTP_REQUESTS = Counter(
    "agentwire_http_requests_total",
    "HTTP requests answered, by route template, method and status.",
    ["route", "method", "status"],
)
HTTP_DURATION = Histogram(
    "agentwire_http_request_duration_seconds",
    "Time from request to the end of its response, by route template and method.",
    ["route", "method"],
)
ERRORS = Counter(
    "agentwire_errors_total",
    "Requests answered with an error, by category.",
    ["category"],
)

WEBSOCKETS = Gauge(
    "agentwire_websocket_connections",
    "Open WebSocket connections, by transport (graphql-ws or legacy).",
    ["transport"],
    multiprocess_mode="livesum",
)
WEBSOCKET_DURATION = Histogram(
    "agentwire_websocket_connection_duration_seconds",
    "How long accepted WebSocket connections stayed open.",
    buckets=(1, 5, 30, 60, 300, 900, 1800, 3600, 4 * 3600, 24 * 3600),
)

GRAPHQL_OPERATIONS = Counter(
    "agentwire_graphql_operations",
    "GraphQL operations by type (query, mutation, subscription, unknown) and outcome.",
    ["type", "outcome"],
)
RATE_LIMITED = Counter(
    "agentwire_rate_limited",
    "Operations refused for going over a rate limit, by operation class.",
    ["class"],
)
APPROVAL_WAIT = Histogram(
    "agentwire_approval_wait_seconds",
    "From an approval request to its decision, by the decision (approved, rejected, "
    "modified, expired, cancelled).",
    ["outcome"],
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 24 * 3600),
)
DB_POOL_SIZE = Gauge(
    "agentwire_db_pool_size",
    "Connections the database pool keeps (AGENTWIRE_DB_POOL_SIZE; as many again may overflow).",
    multiprocess_mode="livesum",
)
DB_POOL_CHECKED_OUT = Gauge(
    "agentwire_db_pool_checked_out",
    "Database connections in use now.",
    multiprocess_mode="livesum",
)
EVENTS_WRITTEN = Counter(
    "agentwire_events_written_total", "Task events written, by event type.", ["type"]
)
SUBSCRIPTIONS = Gauge(
    "agentwire_subscriptions",
    "Open event subscriptions, by channel (transport).",
    ["channel"],
    multiprocess_mode="livesum",
)
RESUMES = Counter(
    "agentwire_resumes",
    "Subscribers that came back with after, a cursor, Last-Event-ID or a resume key.",
    ["channel"],
)
MESSAGES_SENT = Counter(
    "agentwire_messages_sent",
    "Events sent to subscribers (replayed, live and stream-control), by channel.",
    ["channel"],
)
DELIVERY = Histogram(
    "agentwire_event_delivery_seconds",
    "From a live event's timestamp to its send to a subscriber.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
COALESCED = Counter(
    "agentwire_events_coalesced",
    "Queued low-priority frames replaced by a newer one for a slow subscriber.",
)
LAGGED = Counter(
    "agentwire_subscribers_lagged",
    "Times a subscriber fell behind, was sent LAGGED and caught up from the database.",
)


class _Children(dict[str, Any]):
    """A metric's child per label value, resolved once: a delivery is then one increment."""

    def __init__(self, metric: Counter | Gauge) -> None:
        super().__init__((c, metric.labels(c)) for c in telemetry.CHANNELS)
        self.metric = metric

    def __missing__(self, channel: str) -> Any:
        child = self[channel] = self.metric.labels(channel)
        return child


class PrometheusRecorder(telemetry.Recorder):
    """The metrics port (subscriptions/telemetry.py) recorded as Prometheus metrics."""

    def __init__(self) -> None:
        self._open = _Children(SUBSCRIPTIONS)
        self._resumes = _Children(RESUMES)
        self._sent = _Children(MESSAGES_SENT)

    def subscription_opened(self, channel: str) -> None:
        self._open[channel].inc()

    def subscription_closed(self, channel: str) -> None:
        self._open[channel].dec()

    def resumed(self, channel: str) -> None:
        self._resumes[channel].inc()

    def message_sent(self, channel: str, delay_seconds: float | None) -> None:
        self._sent[channel].inc()
        if delay_seconds is not None:
            DELIVERY.observe(delay_seconds)

    def coalesced(self, count: int) -> None:
        COALESCED.inc(count)

    def lagged(self) -> None:
        LAGGED.inc()

    def events_written(self, event_type: str) -> None:
        EVENTS_WRITTEN.labels(event_type).inc()

    def graphql_operation(self, operation_type: str, outcome: str) -> None:
        GRAPHQL_OPERATIONS.labels(operation_type, outcome).inc()

    def error_answered(self, category: str) -> None:
        ERRORS.labels(category).inc()

    def rate_limited(self, operation_class: str) -> None:
        RATE_LIMITED.labels(operation_class).inc()

    def approval_waited(self, outcome: str, seconds: float) -> None:
        APPROVAL_WAIT.labels(outcome).observe(seconds)


def install_recorder(enabled: bool) -> None:
    """Record the metrics port's reports, or (metrics off, for benchmarks) drop them."""
    telemetry.install(PrometheusRecorder() if enabled else telemetry.Recorder())


UNMATCHED = "unmatched"
_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})


def error_category(status: int) -> str | None:
    """The `agentwire_errors_total` category of an HTTP status, or None for a success."""
    if status < 400:
        return None
    if status in (401, 403):
        return "auth"
    if status == 429:
        return "rate_limited"
    if status in (400, 413, 415, 422, 431):
        return "validation"
    if status >= 500:
        return "server"
    return "client"


def route_template(routes: Sequence[BaseRoute], scope: Scope, prefix: str = "") -> str:
    """The template of the route that serves `scope` (`/api/agent/{taskId}`), walking mounts.

    A path that matches only for another method (a 405) still gets its route's template."""
    partial: str | None = None
    for route in routes:
        if not isinstance(route, (Route, Mount, WebSocketRoute)):
            continue
        match, child = route.matches(scope)
        if match is Match.NONE:
            continue
        if isinstance(route, Mount):
            nested = route.routes
            if not nested:
                return prefix + route.path + "/*"
            found = route_template(nested, {**scope, **child}, prefix + route.path)
            if found != UNMATCHED:
                return found
            continue
        if match is Match.FULL:
            return prefix + route.path
        partial = partial or prefix + route.path
    return partial or UNMATCHED


class MetricsMiddleware:
    """Count and time every HTTP request by its route template; sockets are measured elsewhere."""

    def __init__(self, app: ASGIApp, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        # Before the call: routing rewrites scope's root_path in place as it descends mounts.
        route = route_template(self.routes, scope)
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            method = scope["method"] if scope["method"] in _METHODS else "OTHER"
            HTTP_REQUESTS.labels(route, method, str(status)).inc()
            HTTP_DURATION.labels(route, method).observe(time.perf_counter() - started)
            category = error_category(status)
            if category is not None:
                ERRORS.labels(category).inc()

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        transport = "graphql-ws" if scope.get("path") == "/graphql" else "legacy"
        accepted_at: float | None = None

        async def send_and_note(message: Message) -> None:
            nonlocal accepted_at
            await send(message)
            if message["type"] == "websocket.accept" and accepted_at is None:
                accepted_at = time.perf_counter()
                WEBSOCKETS.labels(transport).inc()

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            if accepted_at is not None:
                WEBSOCKETS.labels(transport).dec()
                WEBSOCKET_DURATION.observe(time.perf_counter() - accepted_at)


def exposition() -> bytes:
    """This process's metrics, or every worker's when running in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest()
