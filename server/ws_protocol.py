"""uvicorn's WebSocket protocol with permessage-deflate that keeps no context between messages.

uvicorn offers permessage-deflate with a 4 KiB window and memory level 5, and keeps a
compressor and a decompressor alive for the life of each socket: about 45 KB of zlib
state per connection once it has carried a message, which is most of an idle
subscriber's memory. With `server_no_context_takeover` and `client_no_context_takeover`
each message is compressed on its own and the zlib state is freed after it, so an idle
socket holds none. The cost is a zlib initialisation per message (microseconds) and a
slightly worse ratio on small frames; for many mostly idle subscribers memory is the
scarcer resource (docs/scaling.md).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.extensions.base import Extension
from websockets.extensions.permessage_deflate import (
    PerMessageDeflate,
    ServerPerMessageDeflateFactory,
)
from websockets.frames import CTRL_OPCODES, Frame, Opcode
from websockets.server import ServerProtocol
from websockets.typing import ExtensionParameter

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
