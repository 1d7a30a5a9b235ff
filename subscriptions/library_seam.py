"""The one seam between agentwire and its libraries' internals (strawberry-graphql, uvicorn,
websockets). Everything here relies on something those projects do not document as API;
nothing else in agentwire does. `tests/unit/test_library_seam.py` checks each reliance
directly, so an upgrade that moves one fails there, by name, before any behaviour test; and
pyproject.toml pins each library to the minor line the checks were written against (`~=`).

What is relied on, and why:

- Strawberry's graphql-transport-ws handler class (`BaseGraphQLTransportWSHandler`, named
  by the documented `graphql_transport_ws_handler_class` attribute of the view): its
  `handle_*` hooks, `operations`, `connection_acknowledged` and `Operation`, so that
  `taskUpdates` / `myTaskUpdates` run on the shared fan-out (schema/ws_handler.py) while
  every other operation keeps Strawberry's own path. `start_operation` registers such an
  operation exactly as Strawberry registers its own, so limits, `complete` and the
  teardown of the socket treat both alike.
- `ASGIWebSocketAdapter.ws` (the Starlette WebSocket under Strawberry's adapter):
  `send_text` sends a frame already serialized once per group of subscribers, where the
  adapter's `send_json` would encode it again for every socket.
- `strawberry.Schema._schema` (the graphql-core schema): the subscription planner
  validates and executes documents against it, and the list-size rule measures types.
- asyncio's coroutine protocol (`start_inline`): a send to an idle socket runs on the
  caller's stack, without a task per subscriber per event; one that suspends is driven
  to its end as an asyncio Task would drive it, which means clearing the awaited
  future's `_asyncio_future_blocking` flag before waiting on it (subscriptions/member.py).
- uvicorn's websockets sans-I/O protocol builds its `websockets.ServerProtocol` in
  `__init__` as `self.conn`; `LeanDeflateWebSocketProtocol` replaces it with one whose
  permessage-deflate keeps no context between messages (no zlib state on idle sockets)
  and compresses each distinct message once for every socket (`SharedOutputDeflate`,
  which overrides `PerMessageDeflate.encode` and reads its negotiated parameters).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import strawberry
from graphql import GraphQLSchema
from strawberry.schema import BaseSchema
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.extensions.base import Extension
from websockets.extensions.permessage_deflate import (
    PerMessageDeflate,
    ServerPerMessageDeflateFactory,
)
from websockets.frames import CTRL_OPCODES, Frame, Opcode
from websockets.server import ServerProtocol
from websockets.typing import ExtensionParameter

__all__ = [
    "BaseGraphQLTransportWSHandler",
    "LeanDeflateWebSocketProtocol",
    "Operation",
    "SharedOutputDeflate",
    "graphql_core_schema",
    "send_raw_text",
    "start_inline",
    "start_operation",
    "watch_task",
]

# Strawberry


def graphql_core_schema(schema: BaseSchema) -> GraphQLSchema:
    """The graphql-core schema under a Strawberry schema."""
    assert isinstance(schema, strawberry.Schema)
    return schema._schema


async def send_raw_text(handler: BaseGraphQLTransportWSHandler[Any, Any], frame: str) -> None:
    """Send an already serialized frame on the handler's socket, unencoded."""
    await handler.websocket.ws.send_text(frame)  # type: ignore[attr-defined]


def _retrieve_outcome(task: asyncio.Future[Any]) -> None:
    # As Strawberry's own done-callback: a failure is logged where it happens; taking the
    # exception here only stops asyncio's "exception was never retrieved".
    if not task.cancelled():
        task.exception()


def start_operation(
    handler: BaseGraphQLTransportWSHandler[Any, Any],
    *,
    op_id: str,
    query: str,
    variables: dict[str, Any] | None,
    run: Callable[[Operation[Any, Any]], Coroutine[Any, Any, None]],
) -> Operation[Any, Any]:
    """Register an operation agentwire serves itself, as Strawberry registers its own: it
    counts against `max_subscriptions_per_connection`, `complete` cancels its task and
    closing the socket cancels it too."""
    operation: Operation[Any, Any] = Operation(handler, op_id, query, variables, None)
    operation.task = asyncio.create_task(run(operation))
    operation.task.add_done_callback(_retrieve_outcome)
    handler.operations[op_id] = operation
    return operation


def watch_task(task: asyncio.Future[Any]) -> None:
    """A background task of a socket whose failure is already handled where it happens."""
    task.add_done_callback(_retrieve_outcome)


# asyncio: sends started inline


def start_inline(coroutine: Coroutine[Any, Any, None]) -> Coroutine[Any, Any, None] | None:
    """Run `coroutine` on the caller's stack until it ends or first suspends.

    None when it ended (an exception it raised is raised here); otherwise a coroutine that
    drives the rest of it exactly as an asyncio Task would: await it (in a task).
    """
    try:
        yielded = coroutine.send(None)
    except StopIteration:
        return None
    return _drive(coroutine, yielded)


async def _settled(future: asyncio.Future[Any]) -> None:
    """Wait until `future` is done without taking its result: the driven coroutine will."""
    waiter = asyncio.get_running_loop().create_future()

    def wake(_: object) -> None:
        if not waiter.done():
            waiter.set_result(None)

    future.add_done_callback(wake)
    await waiter


async def _drive(coroutine: Coroutine[Any, Any, None], yielded: Any) -> None:
    while True:
        if yielded is None:
            await asyncio.sleep(0)  # a bare yield: give the loop one turn
        else:
            # What asyncio.Task does with a future a coroutine yields: take it as awaited.
            yielded._asyncio_future_blocking = False
            try:
                await _settled(yielded)
            except asyncio.CancelledError:
                coroutine.close()
                raise
        try:
            yielded = coroutine.send(None)
        except StopIteration:
            return


# uvicorn and websockets: permessage-deflate that keeps no context between messages.
#
# uvicorn offers permessage-deflate with a 4 KiB window and memory level 5, and keeps a
# compressor and a decompressor alive for the life of each socket: about 45 KB of zlib
# state per connection once it has carried a message, which is most of an idle
# subscriber's memory. With `server_no_context_takeover` and `client_no_context_takeover`
# each message is compressed on its own and the zlib state is freed after it, so an idle
# socket holds none. The cost is a zlib initialisation per message (microseconds) and a
# slightly worse ratio on small frames; for many mostly idle subscribers memory is the
# scarcer resource (docs/scaling.md).

# Compressed forms of the last few distinct messages, shared by every socket.
_COMPRESSED_CACHE_SIZE = 16
_CACHEABLE_BYTES = 64 * 1024


class SharedOutputDeflate(PerMessageDeflate):
    """Without context takeover a message compresses to the same bytes on every socket.

    A fan-out sends one event's bytes to thousands of sockets; compressing it once and
    reusing the result saves a zlib set-up and compression per subscriber (about 7 us).
    """

    _compressed: OrderedDict[tuple[bytes, int, tuple[tuple[str, Any], ...]], bytes] = OrderedDict()

    def encode(self, frame: Frame) -> Frame:
        whole_message = frame.fin and frame.opcode is not Opcode.CONT
        if (
            frame.opcode in CTRL_OPCODES
            or not whole_message
            or not self.local_no_context_takeover
            or not isinstance(frame.data, bytes)
            or len(frame.data) > _CACHEABLE_BYTES
        ):
            return super().encode(frame)
        key = (
            frame.data,
            self.local_max_window_bits,
            tuple(sorted(self.compress_settings.items())),
        )
        cache = SharedOutputDeflate._compressed
        data = cache.get(key)
        if data is None:
            data = bytes(super().encode(frame).data)
            cache[key] = data
            if len(cache) > _COMPRESSED_CACHE_SIZE:
                cache.popitem(last=False)
        else:
            cache.move_to_end(key)
        return Frame(frame.opcode, data, frame.fin, True, frame.rsv2, frame.rsv3)


class SharedOutputDeflateFactory(ServerPerMessageDeflateFactory):
    def process_request_params(
        self, params: Sequence[ExtensionParameter], accepted_extensions: Sequence[Extension]
    ) -> tuple[list[ExtensionParameter], PerMessageDeflate]:
        response, negotiated = super().process_request_params(params, accepted_extensions)
        return response, SharedOutputDeflate(
            negotiated.remote_no_context_takeover,
            negotiated.local_no_context_takeover,
            negotiated.remote_max_window_bits,
            negotiated.local_max_window_bits,
            negotiated.compress_settings,
        )


class LeanDeflateWebSocketProtocol(WebSocketsSansIOProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.config.ws_per_message_deflate:
            self.conn = ServerProtocol(
                extensions=[
                    SharedOutputDeflateFactory(
                        server_max_window_bits=12,
                        client_max_window_bits=12,
                        server_no_context_takeover=True,
                        client_no_context_takeover=True,
                        compress_settings={"memLevel": 5},
                    )
                ],
                max_size=self.config.ws_max_size,
                logger=logging.getLogger("uvicorn.error"),
            )
