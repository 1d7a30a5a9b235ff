"""Live task events over graphql-transport-ws (gql's websockets transport) that survive
their socket: on a drop, the watch reconnects with exponential backoff and full jitter and
resubscribes from its own cursor (the last `seq` of a task, the last `cursor` of
`myTaskUpdates`), dropping anything it already yielded, so every event comes exactly once.

`Watch` is the async iterator; `SyncWatch` runs the same `Watch` on an event loop in a
background thread (so the server's pings are answered while the caller is busy) and hands
events over one at a time."""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, Protocol

import gql
from gql.transport.exceptions import TransportError, TransportQueryError
from gql.transport.websockets import WebsocketsTransport
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from agentwire_client.models import AgentwireError, TaskEvent
from agentwire_client.operations import operation

WatchStatus = Literal["connecting", "open", "reconnecting", "closed"]

# Close codes after which the same socket would be refused again (docs/protocol.md): a bad
# or expired credential, a frame the server cannot take, a protocol mismatch.
FATAL_CLOSE_CODES = {
    1009: "a frame was larger than the server accepts",
    4400: "the server could not read a message",
    4403: "the token was refused (missing, invalid, revoked or expired)",
    4406: "the server does not speak graphql-transport-ws",
    4409: "an operation id was used twice",
}
# Domain errors on `subscribe` that a later attempt may not get.
RETRYABLE_CODES = {"UNAVAILABLE", "RATE_LIMITED", "INTERNAL"}


@dataclass(frozen=True)
class Backoff:
    """Delay before reconnect attempt n (1, 2, …): uniform in [0, min(maximum, initial·2ⁿ⁻¹)]
    (full jitter, so that many clients dropped at once do not return at once)."""

    initial: float = 0.5
    maximum: float = 15.0

    def delay(self, attempt: int) -> float:
        return random.uniform(0.0, min(self.maximum, self.initial * 2 ** max(0, attempt - 1)))


class Cursor(Protocol):
    """Where a watch resumes from, and which events it has already yielded."""

    field: str

    def request(self) -> gql.GraphQLRequest: ...

    def accept(self, event: TaskEvent) -> bool: ...


class TaskCursor:
    """One task (`taskUpdates`): the highest `seq` yielded. Without a start (`after=None`)
    the first event is the SNAPSHOT; a reconnect resumes after the last seq."""

    field = "taskUpdates"

    def __init__(self, task_id: str, *, after: int | None, snapshot: bool) -> None:
        self.task_id = task_id
        self.seq = after
        self._document = operation("TaskSnapshot" if snapshot else "TaskUpdates")

    def request(self) -> gql.GraphQLRequest:
        variables: dict[str, Any] = {"taskId": self.task_id}
        if self.seq is not None:
            variables["after"] = self.seq
        return gql.GraphQLRequest(self._document, variable_values=variables)

    def accept(self, event: TaskEvent) -> bool:
        if event.type == "SNAPSHOT":
            if self.seq is not None and event.seq is not None and event.seq < self.seq:
                return False
            if event.seq is not None:
                self.seq = event.seq
            return True
        if event.seq is None:
            return True  # ephemeral (QUEUE_UPDATE) and control (LAGGED) events move no cursor
        if self.seq is not None and event.seq <= self.seq:
            return False
        self.seq = event.seq
        return True


class AllTasksCursor:
    """Every task of the caller (`myTaskUpdates`): the last stored event's `cursor`, and the
    last seq per task so that a replayed event is dropped."""

    field = "myTaskUpdates"

    def __init__(self, *, after: str | None) -> None:
        self.cursor = after
        self.seqs: dict[str, int] = {}

    def request(self) -> gql.GraphQLRequest:
        variables = {} if self.cursor is None else {"after": self.cursor}
        return gql.GraphQLRequest(operation("MyTaskUpdates"), variable_values=variables)

    def accept(self, event: TaskEvent) -> bool:
        if event.seq is not None:
            last = self.seqs.get(event.task_id)
            if last is not None and event.seq <= last:
                return False
            self.seqs[event.task_id] = event.seq
        if event.cursor is not None and event.type != "QUEUE_UPDATE":
            self.cursor = event.cursor
        return True


def close_code(error: BaseException) -> int | None:
    """The WebSocket close code behind a gql transport error, if the server sent one."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ConnectionClosed) and seen.rcvd is not None:
            return seen.rcvd.code
        seen = seen.__cause__ or seen.__context__
    return None


def _refused_status(error: BaseException) -> int | None:
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, InvalidStatus):
            return seen.response.status_code
        seen = seen.__cause__ or seen.__context__
    return None


class Watch:
    """`async for event in watch`: the events of one task or of all the caller's tasks, each
    once, in order, across reconnects. `status` says where the connection is; `until_finished`
    ends the iteration after the event that ends the task's run (see TaskEvent.ends_task)."""

    def __init__(
        self,
        ws_url: str,
        token: Callable[[], str],
        cursor: Cursor,
        *,
        refreshable: bool,
        backoff: Backoff,
        max_attempts: int | None,
        until_finished: bool,
        connect_timeout: float,
    ) -> None:
        self.cursor = cursor
        self.status: WatchStatus = "connecting"
        self.reconnects = 0
        self._ws_url = ws_url
        self._token = token
        self._refreshable = refreshable
        self._backoff = backoff
        self._max_attempts = max_attempts
        self._until_finished = until_finished
        self._connect_timeout = connect_timeout
        self._events = self._run()

    def __aiter__(self) -> Watch:
        return self

    async def __anext__(self) -> TaskEvent:
        return await self._events.__anext__()

    async def aclose(self) -> None:
        await self._events.aclose()
        self.status = "closed"

    async def __aenter__(self) -> Watch:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _transport(self) -> WebsocketsTransport:
        return WebsocketsTransport(
            url=self._ws_url,
            init_payload={"authorization": f"Bearer {self._token()}"},
            subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
            connect_timeout=self._connect_timeout,
            ack_timeout=self._connect_timeout,
            close_timeout=1,
        )

    async def _run(self) -> AsyncGenerator[TaskEvent, None]:
        failures = 0
        try:
            while True:
                opened = False
                try:
                    async with gql.Client(transport=self._transport()) as session:
                        self.status = "open"
                        opened = True
                        failures = 0
                        async for result in session.subscribe(self.cursor.request()):
                            event = TaskEvent.from_graphql(result[self.cursor.field])
                            if not self.cursor.accept(event):
                                continue
                            yield event
                            if self._until_finished and event.ends_task:
                                return
                except TransportQueryError as refused:
                    error = AgentwireError(list(refused.errors or [{"message": str(refused)}]))
                    if error.code not in RETRYABLE_CODES:
                        raise error from refused
                except (TransportError, WebSocketException, OSError, TimeoutError) as dropped:
                    code = close_code(dropped)
                    # A token that expired while connected: a source that can give a new
                    # one reconnects (and resumes); a refusal at connect time stays fatal.
                    expired = code == 4403 and opened and self._refreshable
                    if code in FATAL_CLOSE_CODES and not expired:
                        name = "UNAUTHENTICATED" if code == 4403 else "REFUSED"
                        message = f"{FATAL_CLOSE_CODES[code]} (close code {code})"
                        raise AgentwireError.of(name, message) from dropped
                    if _refused_status(dropped) in (401, 403):
                        raise AgentwireError.of("UNAUTHENTICATED", "handshake refused") from dropped
                failures += 1
                if self._max_attempts is not None and failures > self._max_attempts:
                    raise AgentwireError.of(
                        "UNAVAILABLE", f"no connection to {self._ws_url} after {failures} attempts"
                    )
                self.status = "reconnecting"
                self.reconnects += 1
                await asyncio.sleep(self._backoff.delay(failures))
        finally:
            self.status = "closed"


class SyncWatch:
    """`for event in watch`: a `Watch` run on its own event loop in a daemon thread."""

    def __init__(self, watch: Watch) -> None:
        self._watch = watch
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="agentwire-watch", daemon=True
        )
        self._thread.start()
        self._closed = False

    @property
    def status(self) -> WatchStatus:
        return self._watch.status

    @property
    def cursor(self) -> Cursor:
        return self._watch.cursor

    def __iter__(self) -> SyncWatch:
        return self

    def __next__(self) -> TaskEvent:
        if self._closed:
            raise StopIteration
        future = asyncio.run_coroutine_threadsafe(self._watch.__anext__(), self._loop)
        try:
            return future.result()
        except StopAsyncIteration:
            self.close()
            raise StopIteration from None
        except BaseException:
            future.cancel()
            self.close()
            raise

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._watch.aclose(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> SyncWatch:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
