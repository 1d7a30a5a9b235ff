"""permessage-deflate without context takeover: one compression per distinct message."""

from __future__ import annotations

from websockets.extensions.permessage_deflate import PerMessageDeflate
from websockets.frames import Frame, Opcode

from subscriptions.library_seam import SharedOutputDeflate


def server_side() -> SharedOutputDeflate:
    return SharedOutputDeflate(True, True, 12, 12, {"memLevel": 5})


def client_side() -> PerMessageDeflate:
    return PerMessageDeflate(True, True, 12, 12)


def test_every_socket_gets_the_same_compressed_bytes_which_decode_to_the_message() -> None:
    message = b'{"type":"next","payload":{"data":{"taskUpdates":{"seq":1}}}}' * 3
    first = server_side().encode(Frame(Opcode.TEXT, message))
    second = server_side().encode(Frame(Opcode.TEXT, message))
    assert first.rsv1 and second.rsv1
    assert second.data is first.data  # compressed once, reused
    assert client_side().decode(second).data == message
    assert len(first.data) < len(message)


def test_distinct_messages_are_compressed_separately() -> None:
    encoder = server_side()
    one = encoder.encode(Frame(Opcode.TEXT, b'{"seq": 1, "padding": "aaaaaaaaaaaaaaaa"}'))
    two = encoder.encode(Frame(Opcode.TEXT, b'{"seq": 2, "padding": "aaaaaaaaaaaaaaaa"}'))
    assert one.data != two.data
    assert client_side().decode(two).data == b'{"seq": 2, "padding": "aaaaaaaaaaaaaaaa"}'


def test_control_and_fragmented_frames_are_left_to_the_library() -> None:
    ping = Frame(Opcode.PING, b"x")
    assert server_side().encode(ping) is ping
    part = server_side().encode(Frame(Opcode.TEXT, b"first half", fin=False))
    assert part.rsv1 and part.fin is False
