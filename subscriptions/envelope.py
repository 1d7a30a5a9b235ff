"""The one event format of every channel (DESIGN.md section 5)."""

from __future__ import annotations

import base64
import binascii
import os
import re
import time
from dataclasses import dataclass, field
from typing import Any

from domain.vocabulary import EventPriority, EventType

__all__ = [
    "ENVELOPE_VERSION",
    "Event",
    "EventPriority",
    "EventType",
    "InvalidCursorError",
    "decode_event_cursor",
    "encode_event_cursor",
    "priority_of",
]

ENVELOPE_VERSION = 1


def priority_of(event_type: EventType) -> EventPriority:
    """Critical events are never dropped; low ones may be coalesced for slow clients."""
    return EventPriority.of(event_type)


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_event_id() -> str:
    """A ULID: 48 bits of milliseconds then 80 random bits, sortable by time."""
    value = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def now_ms() -> float:
    return float(int(time.time() * 1000))


@dataclass(frozen=True, slots=True)
class Event:
    """One task event; `seq` is None only for ephemeral events such as queue_update."""

    task_id: str
    user_id: str
    type: EventType
    data: dict[str, Any]
    seq: int | None = None
    id: str = field(default_factory=new_event_id)
    timestamp: float = field(default_factory=now_ms)
    priority: EventPriority | None = None
    version: int = ENVELOPE_VERSION
    cursor: int | None = None
    # Local-only rows behind a snapshot (db.repositories.feeds.TaskRows); never serialized.
    attachment: Any = field(default=None, compare=False, repr=False)

    @property
    def effective_priority(self) -> EventPriority:
        return self.priority or priority_of(self.type)

    def to_wire(self) -> dict[str, Any]:
        """The JSON envelope sent to REST and legacy WebSocket clients."""
        return {
            "id": self.id,
            "version": self.version,
            "type": self.type.value,
            "seq": self.seq,
            "timestamp": self.timestamp,
            "priority": self.effective_priority.value,
            "cursor": encode_event_cursor(self.cursor),
            "data": self.data,
        }

    def to_bus(self) -> dict[str, Any]:
        """The form carried on the bus: the wire envelope plus routing keys."""
        return {
            **self.to_wire(),
            "taskId": self.task_id,
            "userId": self.user_id,
            "globalSeq": self.cursor,
        }

    @classmethod
    def from_bus(cls, message: dict[str, Any]) -> Event:
        return cls(
            task_id=message["taskId"],
            user_id=message["userId"],
            type=EventType(message["type"]),
            data=message["data"],
            seq=message["seq"],
            id=message["id"],
            timestamp=message["timestamp"],
            priority=EventPriority(message["priority"]),
            version=message["version"],
            cursor=message.get("globalSeq"),
        )


_CURSOR_PREFIX = "ev1:"
_CURSOR_BODY = re.compile(r"ev1:[0-9]{1,19}")


class InvalidCursorError(ValueError):
    """A string that is not a cursor this service handed out."""


def encode_event_cursor(position: int | None) -> str | None:
    """The opaque `cursor` of a stored event: its global, commit-ordered position."""
    if position is None:
        return None
    raw = f"{_CURSOR_PREFIX}{position}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_event_cursor(cursor: str) -> int:
    padded = cursor + "=" * (-len(cursor) % 4)
    try:
        raw = base64.urlsafe_b64decode(padded.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as error:
        raise InvalidCursorError(cursor) from error
    if not _CURSOR_BODY.fullmatch(raw):
        raise InvalidCursorError(cursor)
    return int(raw[len(_CURSOR_PREFIX) :])
