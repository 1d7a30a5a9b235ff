"""uvicorn's httptools protocol with bounded request heads (slowloris, header floods).

uvicorn with httptools (the `uvicorn[standard]` default) has no limit on the size or
the number of request headers and no deadline for a head that never ends: a 150 MB
header grows the server by as much, 100,000 header lines are accepted, and a client
that connects and sends nothing (or a byte every few seconds) holds a connection for
ever. Limits are checked here, before any ASGI code runs and before authentication:

- the request line plus headers over `max_header_bytes`, or more than
  `max_header_count` headers: `431 Request Header Fields Too Large`, then close;
- a head not complete within `header_timeout` seconds of the connection opening or
  of the request's first byte: `408 Request Timeout`, then close.

Idle keep-alive connections are closed by uvicorn's own `timeout_keep_alive`.
This subclass touches uvicorn internals (`parser`, `cycle`, `url`, `headers`), which is
why uvicorn is pinned below its next minor version in pyproject.toml;
tests/integration/test_http_limits.py fails if they change.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import httptools
import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

logger = logging.getLogger("agentwire.security")

# Bytes a header line costs beyond its name and value: ": " and CRLF.
_LINE_OVERHEAD = 4


@dataclass(frozen=True, slots=True)
class HeadLimits:
    max_header_bytes: int
    max_header_count: int
    header_timeout: float


class _HeadRefusedError(Exception):
    """Raised inside a parser callback to stop parsing a refused request."""


def _response(status: bytes, code: str, message: str) -> bytes:
    """A complete response that closes the connection (no ASGI app has seen the request)."""
    body = orjson.dumps({"error": {"code": code, "message": message}})
    return b"".join(
        [
            b"HTTP/1.1 " + status + b"\r\n",
            b"content-type: application/json\r\n",
            b"content-length: " + str(len(body)).encode() + b"\r\n",
            b"connection: close\r\n\r\n",
            body,
        ]
    )


def bounded_http_protocol(limits: HeadLimits) -> type[HttpToolsProtocol]:
    """The protocol class for `uvicorn.Config(http=...)`, with these limits."""

    class BoundedHttpToolsProtocol(_BoundedHead):
        head_limits = limits

    return BoundedHttpToolsProtocol


class _BoundedHead(HttpToolsProtocol):
    head_limits: HeadLimits

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_deadline: asyncio.TimerHandle | None = None
        # True while the bytes that arrive belong to a request head.
        self._in_head = True
        self._head_bytes = 0
        self._refused = False

    # the connection

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        # uvicorn's data_received, except that a head we refused inside a parser callback
        # (which httptools reports as a parser error) is not answered a second time.
        if self._refused:
            return
        if self._in_head:
            self._head_bytes += len(data)
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError:
            if not self._refused:
                self.logger.warning("Invalid HTTP request received.")
                self.send_400_response("Invalid HTTP request received.")
            return
        # A head still incomplete is held by the parser: bound it before it grows.
        if self._in_head and self._head_bytes > self.head_limits.max_header_bytes:
            self._refuse_too_large(
                f"the request headers are larger than {self.head_limits.max_header_bytes} bytes"
            )

    # parser callbacks

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._arm_deadline()

    def on_header(self, name: bytes, value: bytes) -> None:
        if len(self.headers) >= self.head_limits.max_header_count:
            self._refuse_too_large(f"more than {self.head_limits.max_header_count} request headers")
            raise _HeadRefusedError
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._disarm_deadline()
        size = len(self.url) + sum(
            len(name) + len(value) + _LINE_OVERHEAD for name, value in self.headers
        )
        if size > self.head_limits.max_header_bytes:
            self._refuse_too_large(
                f"the request headers are larger than {self.head_limits.max_header_bytes} bytes"
            )
            raise _HeadRefusedError
        self._in_head = False
        self._head_bytes = 0
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        # What follows on this connection is the next request's head.
        self._in_head = True
        self._head_bytes = 0

    # refusals

    def _refuse_too_large(self, message: str) -> None:
        self._refuse(b"431 Request Header Fields Too Large", "HEADERS_TOO_LARGE", message)

    def _refuse(self, status: bytes, code: str, message: str) -> None:
        if self._refused:
            return
        self._refused = True
        client = f"{self.client[0]}:{self.client[1]}" if self.client else "unknown"
        # Info, not warning: a slowloris run would otherwise flood the log at warning level.
        logger.info("refused a request head from %s: %s", client, message)
        self._disarm_deadline()
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        # Answer only when no earlier response on this connection is still being written.
        if self.cycle is None or self.cycle.response_complete:
            transport.write(_response(status, code, message))
        transport.close()

    def _arm_deadline(self) -> None:
        if self._head_deadline is None:
            self._head_deadline = self.loop.call_later(
                self.head_limits.header_timeout, self._head_timed_out
            )

    def _disarm_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_timed_out(self) -> None:
        self._head_deadline = None
        self._refuse(
            b"408 Request Timeout",
            "REQUEST_TIMEOUT",
            f"the request headers did not arrive within {self.head_limits.header_timeout} s",
        )
