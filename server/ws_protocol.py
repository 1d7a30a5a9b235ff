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
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.server import ServerProtocol


class LeanDeflateWebSocketProtocol(WebSocketsSansIOProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.config.ws_per_message_deflate:
            self.conn = ServerProtocol(
                extensions=[
                    ServerPerMessageDeflateFactory(
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
