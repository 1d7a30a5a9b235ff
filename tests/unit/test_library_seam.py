"""What subscriptions/library_seam.py relies on in strawberry-graphql, uvicorn, websockets
and asyncio.

Each test names one reliance; an upgrade that changes it fails here first, by name.
"""

from __future__ import annotations

import asyncio
import inspect
import tomllib
from datetime import timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from graphql import GraphQLSchema
from packaging.requirements import Requirement
from strawberry.asgi import ASGIWebSocketAdapter
from uvicorn.config import Config
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState
from websockets.extensions.permessage_deflate import PerMessageDeflate
from websockets.server import ServerProtocol

from schema.build import build_schema
from subscriptions.library_seam import (
    BaseGraphQLTransportWSHandler,
    LeanDeflateWebSocketProtocol,
    Operation,
    SharedOutputDeflate,
    graphql_core_schema,
    send_raw_text,
    start_inline,
    start_operation,
)

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
# The libraries whose internals the seam uses: each pinned to a line with an upper bound.
PINNED = ("strawberry-graphql", "uvicorn", "websockets")


class FakeStarletteSocket:
    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send_text(self, text: str) -> None:
        self.sent.append(text)


def _handler() -> tuple[BaseGraphQLTransportWSHandler[Any, Any], FakeStarletteSocket]:
    socket = FakeStarletteSocket()
    adapter = ASGIWebSocketAdapter(None, None, socket)  # type: ignore[arg-type]
    handler: BaseGraphQLTransportWSHandler[Any, Any] = BaseGraphQLTransportWSHandler(
        None,  # type: ignore[arg-type]
        adapter,
        None,
        None,
        build_schema(),
        timedelta(seconds=1),
        max_subscriptions_per_connection=2,
    )
    return handler, socket


@pytest.mark.parametrize("distribution", PINNED)
def test_each_library_whose_internals_are_used_is_pinned_below_its_next_line(
    distribution: str,
) -> None:
    dependencies = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    (requirement,) = [Requirement(d) for d in dependencies if Requirement(d).name == distribution]
    operators = {spec.operator for spec in requirement.specifier}
    assert operators & {"~=", "<", "<=", "=="}, f"{distribution} has no upper bound"
    assert requirement.specifier.contains(version(distribution))


def test_the_graphql_core_schema_is_under_the_strawberry_schema() -> None:
    core = graphql_core_schema(build_schema())
    assert isinstance(core, GraphQLSchema)
    assert core.subscription_type is not None
    assert set(core.subscription_type.fields) == {"taskUpdates", "myTaskUpdates", "approvalUpdates"}


def test_the_handler_hooks_agentwire_overrides_exist_with_their_signatures() -> None:
    for hook in (
        "handle",
        "handle_message",
        "handle_connection_init",
        "handle_subscribe",
        "handle_complete",
        "handle_pong",
        "handle_invalid_message",
    ):
        method = getattr(BaseGraphQLTransportWSHandler, hook)
        assert inspect.iscoroutinefunction(method), hook
        expected = (
            ["self"]
            if hook == "handle"
            else ["self", "message" if "invalid" not in hook else "error_message"]
        )
        assert list(inspect.signature(method).parameters) == expected, hook
    assert list(inspect.signature(Operation.__init__).parameters) == [
        "self",
        "handler",
        "id",
        "query",
        "variables",
        "operation_name",
    ]


async def test_an_operation_started_through_the_seam_is_one_strawberry_manages() -> None:
    # given
    handler, _ = _handler()
    started = asyncio.Event()
    seen: list[Operation[Any, Any]] = []

    async def run(operation: Operation[Any, Any]) -> None:
        seen.append(operation)
        started.set()
        await asyncio.Event().wait()

    # when
    operation = start_operation(handler, op_id="a", query="subscription{x}", variables={}, run=run)
    await asyncio.wait_for(started.wait(), 5)
    # then: counted, and `complete` cancels it as it would Strawberry's own
    assert handler.operations == {"a": operation} and seen == [operation]
    assert not handler.connection_acknowledged
    await handler.handle_complete({"id": "a", "type": "complete"})
    assert handler.operations == {}
    assert operation.task is not None
    with pytest.raises(asyncio.CancelledError):
        await operation.task


async def test_socket_teardown_cancels_operations_started_through_the_seam() -> None:
    handler, _ = _handler()
    operation = start_operation(
        handler, op_id="b", query="q", variables=None, run=lambda _op: asyncio.Event().wait()
    )
    await handler.shutdown()
    assert operation.task is not None and operation.task.cancelled()


async def test_a_raw_frame_reaches_the_starlette_socket_unencoded() -> None:
    handler, socket = _handler()
    frame = '{"id":"a","type":"next","payload":{"data":{}}}'
    await send_raw_text(handler, frame)
    assert socket.sent == [frame]


async def _asgi_app(scope: Any, receive: Any, send: Any) -> None:
    return None


def test_uvicorn_builds_its_websockets_protocol_in_init_where_the_lean_one_replaces_it() -> None:
    config = Config(app=_asgi_app, ws_per_message_deflate=True)
    config.load()
    loop = asyncio.new_event_loop()
    try:
        plain = WebSocketsSansIOProtocol(config, ServerState(), {}, _loop=loop)
        lean = LeanDeflateWebSocketProtocol(config, ServerState(), {}, _loop=loop)
    finally:
        loop.close()
    assert isinstance(plain.conn, ServerProtocol) and isinstance(lean.conn, ServerProtocol)
    (factory,) = lean.conn.available_extensions
    assert factory.server_no_context_takeover and factory.client_no_context_takeover
    assert lean.conn.max_message_size == config.ws_max_size


def test_the_deflate_parameters_the_shared_encoder_reads_exist() -> None:
    encoder = SharedOutputDeflate(True, True, 12, 12, {"memLevel": 5})
    assert isinstance(encoder, PerMessageDeflate)
    assert encoder.local_no_context_takeover is True
    assert encoder.local_max_window_bits == 12
    assert encoder.compress_settings == {"memLevel": 5}


def test_asyncio_futures_carry_the_flag_the_inline_driver_clears() -> None:
    loop = asyncio.new_event_loop()
    try:
        future = loop.create_future()
        assert future._asyncio_future_blocking is False
    finally:
        loop.close()


async def test_a_send_that_does_not_suspend_ends_on_the_callers_stack() -> None:
    done: list[str] = []

    async def send() -> None:
        done.append("sent")

    assert start_inline(send()) is None
    assert done == ["sent"]


async def test_a_failing_send_raises_on_the_callers_stack() -> None:
    async def send() -> None:
        raise ConnectionResetError("gone")

    with pytest.raises(ConnectionResetError):
        start_inline(send())


async def test_a_send_that_suspends_is_finished_by_the_driver_with_its_result() -> None:
    # given: a send that waits on a future (a full write buffer)
    loop = asyncio.get_running_loop()
    drained: asyncio.Future[str] = loop.create_future()
    seen: list[str] = []

    async def send() -> None:
        seen.append(await drained)
        await asyncio.sleep(0)  # a bare yield on the way
        seen.append("after")

    # when
    rest = start_inline(send())
    assert rest is not None and seen == []
    finishing = asyncio.ensure_future(rest)
    loop.call_soon(drained.set_result, "drained")
    await asyncio.wait_for(finishing, 5)
    # then
    assert seen == ["drained", "after"]


async def test_cancelling_the_driver_closes_the_send() -> None:
    closed = asyncio.Event()

    async def send() -> None:
        try:
            await asyncio.get_running_loop().create_future()
        finally:
            closed.set()

    rest = start_inline(send())
    assert rest is not None
    finishing = asyncio.ensure_future(rest)
    await asyncio.sleep(0)
    finishing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await finishing
    assert closed.is_set()


def test_uvicorns_httptools_protocol_has_what_the_head_limits_override_and_call() -> None:
    # server/http_protocol.py (request-head limits) subclasses it under the same uvicorn pin.
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    for method in (
        "connection_made",
        "connection_lost",
        "data_received",
        "on_message_begin",
        "on_header",
        "on_headers_complete",
        "on_message_complete",
        "handle_websocket_upgrade",
        "send_400_response",
        "_should_upgrade",
        "_unset_keepalive_if_required",
        "_unsupported_upgrade_warning",
    ):
        assert callable(getattr(HttpToolsProtocol, method, None)), method
    config = Config(app=_asgi_app, http="httptools")
    config.load()
    loop = asyncio.new_event_loop()
    try:
        protocol = HttpToolsProtocol(config, ServerState(), {}, _loop=loop)
    finally:
        loop.close()
    for attribute in ("parser", "loop", "logger", "headers", "cycle"):
        assert hasattr(protocol, attribute), attribute
