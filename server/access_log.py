"""No credential from a query string in uvicorn's logs.

agentwire reads credentials only from headers and message payloads, but clients and
proxies still put them in URLs (`?access_token=…` for EventSource, `?token=…`), and
uvicorn writes the whole path with its query string into the access log (HTTP) and
into its error log (WebSocket handshakes). The filter rewrites such values to
`[redacted]` in every record of those two loggers before any handler sees it.
"""

from __future__ import annotations

import logging
import re

# Query parameters that carry a credential, as clients name them.
SECRET_PARAMETERS = ("access_token", "token", "api_key", "apikey", "key", "jwt")
_NAMES = "|".join(SECRET_PARAMETERS)
_SECRET_VALUE = re.compile(rf"([?&;](?:{_NAMES})=)[^&;#\s\"]*", re.IGNORECASE)
REDACTED = "[redacted]"
UVICORN_LOGGERS = ("uvicorn.access", "uvicorn.error")


# An approval link's token is a path segment (`/api/approval-links/<token>`), not a query.
_LINK_TOKEN = re.compile(r"(/approval-links/)[^/?#\s\"]+")


def redact_query_tokens(text: str) -> str:
    """`text` with the value of every credential query parameter (and approval link
    token) replaced."""
    return _LINK_TOKEN.sub(rf"\1{REDACTED}", _SECRET_VALUE.sub(rf"\1{REDACTED}", text))


class RedactQueryTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_query_tokens(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_query_tokens(arg) if isinstance(arg, str) else arg for arg in record.args
            )
        return True

    @classmethod
    def install(cls) -> None:
        """Add the filter to uvicorn's loggers once (uvicorn logs on them directly)."""
        for name in UVICORN_LOGGERS:
            logger = logging.getLogger(name)
            if not any(isinstance(f, cls) for f in logger.filters):
                logger.addFilter(cls())
