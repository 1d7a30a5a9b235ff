"""What the current request is, for code that has no request object (audit, rate limits).

The security middleware sets it once per HTTP request or WebSocket connection; the
authenticator adds the principal, so socket-level limits can be keyed by who is calling.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from dataclasses import dataclass

from auth.principal import Principal


@dataclass
class RequestInfo:
    request_id: str = ""
    client: str = ""
    route: str = ""
    principal: Principal | None = None
    # The task the request is about, where there is one (for log lines).
    task_id: str = ""


_current: ContextVar[RequestInfo | None] = ContextVar("agentwire_request", default=None)


def current_request() -> RequestInfo | None:
    return _current.get()


def begin_request(info: RequestInfo) -> Token[RequestInfo | None]:
    return _current.set(info)


def end_request(token: Token[RequestInfo | None]) -> None:
    _current.reset(token)


def note_task(task_id: object) -> None:
    """Name the task the current request is about, so its log lines carry it."""
    info = _current.get()
    if info is not None and not info.task_id:
        info.task_id = str(task_id)
