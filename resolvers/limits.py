"""Rate limits per principal and operation class, one rule for every transport.

Reads and writes are counted here, in the resolver layer, so REST and GraphQL share one
budget; subscribe and WebSocket-message limits are consulted where the sockets are
(server/ws_guard.py). Counters live in Redis when it is configured (shared by every
instance), in memory otherwise. If Redis is unreachable the request is let through and
a warning logged: a limit protects capacity, it is not an authorization rule. A Redis
that hangs costs a request at most the Redis socket timeout, and only until the shared
circuit breaker opens; while it is open, requests are counted in this process's memory
(per instance, not shared) without waiting on Redis at all.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Literal

from limits import RateLimitItem, WindowStats, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from redis.asyncio import BlockingConnectionPool

from auth.principal import DECIDE_SCOPE
from resolvers.audit import record_denied
from resolvers.context import RequestContext
from resolvers.errors import ForbiddenError, RateLimitedError
from subscriptions import telemetry
from subscriptions.breaker import CircuitBreaker, CircuitOpenError

logger = logging.getLogger("agentwire.limits")

OperationClass = Literal["read", "write", "subscribe", "ws_message", "auth_failure"]
_SCOPE_CLASS: dict[str, OperationClass] = {
    "tasks:read": "read",
    "tasks:write": "write",
    DECIDE_SCOPE: "write",
}
# Counted per connection, and a connection lives on one instance: process memory is
# exact for these, and saves a Redis round trip on every frame.
# Failed authentications are counted per instance too: the check runs before every
# authentication, and a Redis round trip for it would tax every request.
_LOCAL_CLASSES = frozenset({"ws_message", "auth_failure"})
_NOUNS: dict[str, str] = {
    "read": "reads",
    "write": "writes",
    "subscribe": "subscriptions opened",
    "ws_message": "WebSocket messages",
    "auth_failure": "failed authentications",
}


@dataclass(frozen=True, slots=True)
class RateDecision:
    """One counted operation: whether it may go ahead, and what the headers report."""

    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int
    window_seconds: int
    operation: str

    def headers(self) -> dict[str, str]:
        """`RateLimit-*` (draft-ietf-httpapi-ratelimit-headers), plus `Retry-After` if refused."""
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_seconds),
            "RateLimit-Policy": f"{self.limit};w={self.window_seconds}",
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.reset_seconds)
        return headers

    def error(self) -> RateLimitedError:
        return RateLimitedError(
            f"too many {_NOUNS[self.operation]}: the limit is {self.limit} per "
            f"{self.window_seconds} seconds; retry after {self.reset_seconds} seconds",
            retry_after=self.reset_seconds,
        )


@dataclass
class RateNote:
    """The tightest decision of one HTTP request, reported in its response headers."""

    decision: RateDecision | None = None

    def note(self, decision: RateDecision) -> None:
        """A refusal wins over any pass; among passes, the one with the least left."""
        current = self.decision
        if current is None or (
            current.allowed and (not decision.allowed or decision.remaining < current.remaining)
        ):
            self.decision = decision


# The HTTP middleware installs a fresh note per request; resolvers only write into it.
current_note: ContextVar[RateNote | None] = ContextVar("agentwire_rate_note", default=None)


def _parse(name: str, text: str) -> list[RateLimitItem]:
    try:
        return parse_many(text)
    except ValueError as error:
        raise ValueError(
            f"AGENTWIRE_RATE_LIMIT_{name.upper()}={text!r} is not a rate limit; write it "
            "in the limits notation, e.g. '120/minute' or '10/second;600/minute'"
        ) from error


class RateLimiter:
    def __init__(
        self,
        storage: Storage,
        limits: Mapping[str, str],
        *,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self._strategy = MovingWindowRateLimiter(storage)
        self._breaker = breaker
        self._local = (
            self._strategy
            if isinstance(storage, MemoryStorage)
            else MovingWindowRateLimiter(MemoryStorage())
        )
        self._items = {name: _parse(name, text) for name, text in limits.items()}
        self._pool: BlockingConnectionPool | None = None
        self._warned_at = 0.0

    @classmethod
    def create(
        cls,
        *,
        redis_url: str | None,
        limits: Mapping[str, str],
        breaker: CircuitBreaker | None = None,
        socket_timeout: float = 0.5,
        connect_timeout: float = 0.5,
    ) -> RateLimiter:
        """In Redis when `redis_url` is set, in process memory otherwise."""
        if not redis_url:
            return cls(MemoryStorage(), limits)
        pool = BlockingConnectionPool.from_url(
            redis_url,
            max_connections=50,
            timeout=socket_timeout,
            socket_timeout=socket_timeout,
            socket_connect_timeout=connect_timeout,
        )
        storage = RedisStorage(
            f"async+{redis_url}",
            implementation="redispy",
            key_prefix="agentwire:limits",
            connection_pool=pool,  # type: ignore[arg-type]
        )
        limiter = cls(storage, limits, breaker=breaker)
        limiter._pool = pool
        return limiter

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()

    async def hit(
        self, operation: OperationClass, key: str, *, cost: int = 1
    ) -> RateDecision | None:
        """Count `cost` operations of `key`; None when that class is not limited."""
        items = self._items.get(operation)
        if not items:
            return None
        try:
            if self._breaker is None or operation in _LOCAL_CLASSES:
                decision = await self._hit(operation, key, items, cost=cost)
            else:
                decision = await self._breaker.run(
                    lambda: self._hit(operation, key, items, cost=cost)
                )
        except CircuitOpenError:
            decision = await self._hit(operation, key, items, cost=cost, strategy=self._local)
        except Exception:
            self._store_unavailable()
            return None
        if not decision.allowed:
            telemetry.recorder.rate_limited(operation)
        return decision

    async def refusal(self, operation: OperationClass, key: str) -> RateDecision | None:
        """The refusal `key` would get for one more operation, counting nothing; None
        when it is under every limit of the class. Only for classes counted in process
        memory (`_LOCAL_CLASSES`), so it costs no round trip."""
        assert operation in _LOCAL_CLASSES
        for item in self._items.get(operation, ()):
            if not await self._local.test(item, operation, key):
                stats = await self._local.get_window_stats(item, operation, key)
                return self._decision(operation, item, False, stats)
        return None

    def _store_unavailable(self) -> None:
        # Fail open: an outage of the limit store must not take the API down.
        now = time.monotonic()
        if now - self._warned_at > 60:
            self._warned_at = now
            logger.warning("rate limit store unavailable; not limiting", exc_info=True)

    @staticmethod
    def _decision(
        operation: OperationClass, item: RateLimitItem, allowed: bool, stats: WindowStats
    ) -> RateDecision:
        return RateDecision(
            allowed=allowed,
            limit=item.amount,
            remaining=max(stats.remaining, 0),
            reset_seconds=max(1, math.ceil(stats.reset_time - time.time())),
            window_seconds=item.get_expiry(),
            operation=operation,
        )

    async def _hit(
        self,
        operation: OperationClass,
        key: str,
        items: list[RateLimitItem],
        *,
        cost: int = 1,
        strategy: MovingWindowRateLimiter | None = None,
    ) -> RateDecision:
        if strategy is None:
            strategy = self._local if operation in _LOCAL_CLASSES else self._strategy
        tightest: RateDecision | None = None
        for item in items:
            allowed = await strategy.hit(item, operation, key, cost=cost)
            stats = await strategy.get_window_stats(item, operation, key)
            decision = self._decision(operation, item, allowed, stats)
            if not allowed:
                return decision
            if tightest is None or decision.remaining < tightest.remaining:
                tightest = decision
        assert tightest is not None
        return tightest


class AuthFailureThrottle:
    """The `Authenticator`'s throttle: failed authentications per client address, in
    process memory (`AGENTWIRE_RATE_LIMIT_AUTH_FAILURE`)."""

    def __init__(self, limiter: RateLimiter) -> None:
        self._limiter = limiter

    async def retry_after(self, client: str) -> int | None:
        refusal = await self._limiter.refusal("auth_failure", client)
        if refusal is None:
            return None
        telemetry.recorder.rate_limited("auth_failure")
        return refusal.reset_seconds

    async def failed(self, client: str) -> None:
        await self._limiter.hit("auth_failure", client)


def require_scope(ctx: RequestContext, scope: str, *, across_tasks: bool = False) -> None:
    """Refuse a credential without `scope` (a read-only API key cannot write), and a
    credential scoped to one task any operation `across_tasks` (lists, user feeds); audited."""
    principal = ctx.principal
    if principal.task_scope is not None and (across_tasks or not principal.can(scope)):
        record_denied(ctx, action=scope, target=None, reason="task-scoped credential")
        granted = ", ".join(sorted(principal.scopes)) or "nothing"
        raise ForbiddenError(
            f"this credential is scoped to task {principal.task_scope} and grants only "
            f"{granted} there; it cannot do this"
            + (" (it spans several tasks)" if across_tasks else ""),
            hint="use your own token for anything else",
        )
    if not principal.can(scope):
        # Keys and tokens are granted `tasks:write`, which implies deciding: name that one.
        needed = "tasks:write" if scope == DECIDE_SCOPE else scope
        record_denied(ctx, action=needed, target=None, reason="missing scope")
        raise ForbiddenError(
            f"this credential lacks the {needed!r} scope",
            hint=f"use a token or API key that has the {needed!r} scope",
        )


async def authorize(ctx: RequestContext, scope: str, *, across_tasks: bool = False) -> None:
    """The gate every use case passes: the scope (and, for an operation `across_tasks`,
    that the credential is not scoped to one task), then the caller's rate limit for it."""
    require_scope(ctx, scope, across_tasks=across_tasks)
    operation = _SCOPE_CLASS.get(scope)
    if operation is not None:
        await throttle(ctx, operation)


async def throttle(ctx: RequestContext, operation: OperationClass, *, cost: int = 1) -> None:
    """Count `cost` operations of the caller; `RateLimitedError` when over the limit."""
    limiter = ctx.services.limiter
    if limiter is None:
        return
    decision = await limiter.hit(operation, str(ctx.principal.user_id), cost=cost)
    if decision is None:
        return
    note = current_note.get()
    if note is not None:
        note.note(decision)
    if not decision.allowed:
        raise decision.error()


async def throttle_request(ctx: RequestContext) -> None:
    """Count one read for a request in which no use case counted anything, so a request
    that reaches no resolver (`{ __typename }`, introspection, a document that does not
    parse) still spends the caller's budget; `RateLimitedError` when over it."""
    note = current_note.get()
    if note is not None and note.decision is not None:
        return
    await throttle(ctx, "read")
