"""What `Client` and `AsyncClient` share besides the calls: URLs, headers, watch set-up."""

from __future__ import annotations

from collections.abc import Callable, Generator

import httpx

from agentwire_client.watch import AllTasksCursor, Backoff, Cursor, TaskCursor, Watch

# A bearer token, or a function that returns a current one (called for every request and
# every socket connection, so a long-lived client can outlive any one token).
TokenSource = str | Callable[[], str]


def base_url(url: str) -> str:
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"url must start with http:// or https://, not {url!r}")
    return url.rstrip("/")


def ws_url(url: str) -> str:
    """The graphql-transport-ws endpoint beside an http(s) base URL."""
    return "ws" + base_url(url).removeprefix("http") + "/graphql"


def token_getter(token: TokenSource) -> Callable[[], str]:
    return token if callable(token) else (lambda: token)


class BearerAuth(httpx.Auth):
    """`Authorization: Bearer <token>` with the token source asked on every request."""

    def __init__(self, token: TokenSource) -> None:
        self._token = token_getter(token)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token()}"
        yield request


class WatchOptions:
    """How watches made by one client reconnect."""

    def __init__(
        self,
        url: str,
        token: TokenSource,
        *,
        backoff: Backoff | None,
        max_attempts: int | None,
        connect_timeout: float,
    ) -> None:
        self.ws_url = ws_url(url)
        self.token = token_getter(token)
        # Only a source that can give a new token makes a 4403 on an open socket worth a retry.
        self.refreshable = callable(token)
        self.backoff = backoff or Backoff()
        self.max_attempts = max_attempts
        self.connect_timeout = connect_timeout

    def watch(self, cursor: Cursor, *, until_finished: bool) -> Watch:
        return Watch(
            self.ws_url,
            self.token,
            cursor,
            refreshable=self.refreshable,
            backoff=self.backoff,
            max_attempts=self.max_attempts,
            until_finished=until_finished,
            connect_timeout=self.connect_timeout,
        )

    def task(self, task_id: str, *, after: int | None, until_finished: bool) -> Watch:
        # Without a start, the first event is a SNAPSHOT carrying the whole task.
        cursor = TaskCursor(task_id, after=after, snapshot=after is None)
        return self.watch(cursor, until_finished=until_finished)

    def all_tasks(self, *, after: str | None) -> Watch:
        return self.watch(AllTasksCursor(after=after), until_finished=False)
