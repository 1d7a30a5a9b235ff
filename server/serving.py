"""How agentwire runs under uvicorn: one config for `agentwire serve` and the test servers.

Everything that protects the server below the ASGI app is set here, so a server started
any other way in this repository gets the same: bounded request heads and keep-alive
(server/http_protocol.py), the lean WebSocket protocol, a client address taken from
`X-Forwarded-For` only when the peer is a configured proxy (AGENTWIRE_TRUSTED_PROXIES),
and no credential from a query string in uvicorn's logs (server/access_log.py).
"""

from __future__ import annotations

from typing import Any

import uvicorn
from starlette.types import ASGIApp

from server.access_log import RedactQueryTokens
from server.http_protocol import HeadLimits, bounded_http_protocol
from server.settings import Settings
from subscriptions.library_seam import LeanDeflateWebSocketProtocol


def uvicorn_config(
    app: ASGIApp, settings: Settings, *, host: str, port: int, log_level: str, **extra: Any
) -> uvicorn.Config:
    proxies = settings.trusted_proxy_list
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        http=bounded_http_protocol(
            HeadLimits(
                max_header_bytes=settings.max_header_bytes,
                max_header_count=settings.max_header_count,
                header_timeout=settings.header_timeout_seconds,
            )
        ),
        timeout_keep_alive=settings.keep_alive_seconds,
        ws=LeanDeflateWebSocketProtocol,
        ws_max_size=settings.ws_max_message_bytes,
        ws_per_message_deflate=True,
        # uvicorn trusts X-Forwarded-For from 127.0.0.1 by default: anyone on the host
        # could then pick the address audit entries and per-client throttles use.
        proxy_headers=bool(proxies),
        forwarded_allow_ips=proxies or None,
        timeout_graceful_shutdown=max(1, round(settings.shutdown_grace_seconds)),
        **extra,
    )
    # uvicorn.Config has configured its loggers by now; the filter goes on top of them.
    RedactQueryTokens.install()
    return config
