"""What `Client` and `AsyncClient` share besides the calls: URLs, headers, watch set-up."""

from __future__ import annotations

from agentwire_client.watch import AllTasksCursor, Backoff, Cursor, TaskCursor, Watch


def base_url(url: str) -> str:
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"url must start with http:// or https://, not {url!r}")
    return url.rstrip("/")


def ws_url(url: str) -> str:
    """The graphql-transport-ws endpoint beside an http(s) base URL."""
    return "ws" + base_url(url).removeprefix("http") + "/graphql"


def headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class WatchOptions:
    """How watches made by one client reconnect."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        backoff: Backoff | None,
        max_attempts: int | None,
        connect_timeout: float,
    ) -> None:
        self.ws_url = ws_url(url)
        self.token = token
        self.backoff = backoff or Backoff()
        self.max_attempts = max_attempts
        self.connect_timeout = connect_timeout

    def watch(self, cursor: Cursor, *, until_finished: bool) -> Watch:
        return Watch(
            self.ws_url,
            self.token,
            cursor,
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
