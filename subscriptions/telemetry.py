"""The metrics port: what the real-time path, the engine and the transports report.

The layers below `server/` may not import it (import-linter), yet they are where
deliveries, coalescing, lag and approval waits happen. They call the `recorder`
installed here; `server/metrics.py` installs the Prometheus implementation at start-up.
Until then (and with `AGENTWIRE_METRICS_ENABLED=false`) every call is a no-op.

Labels stay bounded: `channel` is one of the `CHANNELS` below, never a task or user id.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from subscriptions.envelope import Event, EventType

# Where a subscriber is served; the `channel` label of the delivery metrics.
GRAPHQL_WS = "graphql-ws"
GRAPHQL_HTTP = "graphql-http"  # GraphQL subscriptions over SSE or multipart HTTP
LEGACY_WS = "legacy-ws"
SSE = "sse"
AG_UI = "ag-ui"
LONG_POLL = "long-poll"
CHANNELS = (GRAPHQL_WS, GRAPHQL_HTTP, LEGACY_WS, SSE, AG_UI, LONG_POLL)

# Stream-control messages are sent, but they are not deliveries of a stored event.
_CONTROL = frozenset({EventType.SNAPSHOT, EventType.LAGGED})


class Recorder:
    """Does nothing; `server.metrics.PrometheusRecorder` overrides every method."""

    def subscription_opened(self, channel: str) -> None: ...

    def subscription_closed(self, channel: str) -> None: ...

    def resumed(self, channel: str) -> None:
        """A subscriber came back with `after`, a cursor, `Last-Event-ID` or a resume key."""

    def message_sent(self, channel: str, delay_seconds: float | None) -> None:
        """One event sent; `delay_seconds` from its timestamp when it was a live delivery."""

    def coalesced(self, count: int) -> None:
        """`count` queued low-priority frames were replaced by a newer one."""

    def lagged(self) -> None:
        """A subscriber fell behind and was told LAGGED."""

    def events_written(self, event_type: str) -> None: ...

    def graphql_operation(self, operation_type: str, outcome: str) -> None:
        """One GraphQL operation ran (or was refused): `outcome` is `ok` or an error category."""

    def error_answered(self, category: str) -> None:
        """An error answered with a success status (GraphQL's 200 with `errors`)."""

    def approval_waited(self, outcome: str, seconds: float) -> None:
        """An approval request was decided (`outcome` is its final status) after `seconds`."""

    def rate_limited(self, operation_class: str) -> None:
        """A caller was refused for going over the rate limit of `operation_class`."""


recorder: Recorder = Recorder()


def install(new: Recorder) -> None:
    global recorder
    recorder = new


class Watch:
    """One subscriber, as the delivery metrics see it: opened, each event sent, closed.

    An event committed after the subscriber opened is a live delivery: its delay from
    the event's timestamp to the send is observed. Replayed history is only counted,
    so a resume after an hour does not read as an hour of latency."""

    __slots__ = ("channel", "closed", "opened_ms")

    def __init__(self, channel: str, *, resumed: bool = False) -> None:
        self.channel = channel
        self.opened_ms = time.time() * 1000
        self.closed = False
        recorder.subscription_opened(channel)
        if resumed:
            recorder.resumed(channel)

    def sent(self, event: Event) -> None:
        delay: float | None = None
        if event.timestamp >= self.opened_ms and event.type not in _CONTROL:
            delay = max(0.0, time.time() - event.timestamp / 1000)
        recorder.message_sent(self.channel, delay)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            recorder.subscription_closed(self.channel)


async def observed(
    events: AsyncIterator[Event], channel: str, *, resumed: bool = False
) -> AsyncIterator[Event]:
    """`events`, counted as one subscriber of `channel` (for streams outside the hub)."""
    watch = Watch(channel, resumed=resumed)
    try:
        async for event in events:
            watch.sent(event)
            yield event
    finally:
        watch.close()
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()
