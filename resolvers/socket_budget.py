"""How many sockets one user may hold open on this instance (AGENTWIRE_WS_MAX_CONNECTIONS_PER_USER).

Every socket transport (graphql-transport-ws and the legacy task socket) takes a place
once its credential is known and gives it back when it closes; a user at the limit
has their next socket closed with `SOCKETS_PER_USER_CLOSE` (server/ws_guard.py).
"""

from __future__ import annotations

import uuid
from collections import Counter

# graphql-ws clients treat 4429 as fatal: they wait instead of reconnecting at once.
SOCKETS_PER_USER_CLOSE = 4429


class SocketBudget:
    """Open sockets per user, counted in this process."""

    def __init__(self, per_user: int) -> None:
        self.per_user = per_user
        self._open: Counter[uuid.UUID] = Counter()

    def acquire(self, user_id: uuid.UUID) -> bool:
        """Take a place for one more socket of `user_id`; False when they hold the limit."""
        if self._open[user_id] >= self.per_user:
            return False
        self._open[user_id] += 1
        return True

    def release(self, user_id: uuid.UUID) -> None:
        self._open[user_id] -= 1
        if self._open[user_id] <= 0:
            del self._open[user_id]

    def open_sockets(self, user_id: uuid.UUID) -> int:
        return self._open[user_id]
