"""A circuit breaker for Redis: after a few failures in a row, stop asking for a while.

A Redis stopped by SIGSTOP (or behind a black-holed network) accepts bytes and never
answers, so every command waits out its socket timeout. Once `failures` calls in a row
have failed, the breaker opens: callers skip Redis at once (the bus delivers from the
database, rate limits fail open) for `reset_seconds`. Then exactly one call is let
through as a probe; its success closes the breaker, its failure opens it again.

purgatory (the asyncio breaker on PyPI) lets every concurrent call through while half
open, so each probe window would cost a burst of requests one socket timeout each; a
single probe is the point here, hence this small class.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Literal, TypeVar

logger = logging.getLogger("agentwire.redis")

T = TypeVar("T")
State = Literal["closed", "open", "half_open"]


class CircuitOpenError(Exception):
    """Redis is being skipped until the breaker's next probe."""


class CircuitBreaker:
    def __init__(
        self,
        *,
        name: str,
        failures: int,
        reset_seconds: float,
        counted: tuple[type[BaseException], ...],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failures < 1 or reset_seconds <= 0:
            raise ValueError("a breaker needs failures >= 1 and reset_seconds > 0")
        self.name = name
        self._threshold = failures
        self._reset_seconds = reset_seconds
        self._counted = counted
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False

    @property
    def state(self) -> State:
        if self._opened_at is None:
            return "closed"
        if self._probing or self._clock() - self._opened_at >= self._reset_seconds:
            return "half_open"
        return "open"

    def allow(self) -> bool:
        """Whether a call may go to Redis now; True at most once per probe window."""
        if self._opened_at is None:
            return True
        if self._probing or self._clock() - self._opened_at < self._reset_seconds:
            return False
        self._probing = True
        return True

    def succeeded(self) -> None:
        if self._opened_at is not None:
            logger.info("%s answers again; circuit closed", self.name)
        self._failures = 0
        self._opened_at = None
        self._probing = False

    def failed(self) -> None:
        self._failures += 1
        if self._probing or self._failures >= self._threshold:
            if self._opened_at is None:
                logger.warning(
                    "%s failed %d times in a row; skipping it for %g s",
                    self.name,
                    self._failures,
                    self._reset_seconds,
                )
            self._opened_at = self._clock()
            self._probing = False

    def trip(self) -> None:
        """Open now: someone watching Redis saw it hang (no need to count failures)."""
        self._failures = max(self._failures, self._threshold - 1)
        self.failed()

    def abandoned(self) -> None:
        """A call that ended without an answer either way (cancelled): free the probe."""
        self._probing = False

    async def run(self, operation: Callable[[], Awaitable[T]]) -> T:
        """`operation()` unless the breaker is open (then `CircuitOpenError`, at once)."""
        if not self.allow():
            raise CircuitOpenError(f"{self.name} is skipped after repeated failures")
        try:
            result = await operation()
        except self._counted:
            self.failed()
            raise
        except BaseException:
            self.abandoned()
            raise
        self.succeeded()
        return result
