"""Fan-out across API instances over Redis pub/sub; the database stays the truth.

One process holds one pub/sub connection (not one per subscriber) and a
blocking pool for PUBLISH. Events reach subscribers in this process at once,
without a round trip; other instances get them through Redis. Redis pub/sub is
at-most-once, so whenever the connection drops the bus reports `degraded`:
readers then poll the database on a short interval, and when Redis is back
every local subscriber is poked to read back whatever the outage hid.

A Redis that hangs (stopped by SIGSTOP, a network that drops packets) is not a closed
connection: every command has a socket timeout, a quiet pub/sub connection is pinged and
dropped when the pong does not come, and a circuit breaker shared with the rate limiter
stops publishing after a few failures, so the engine never waits on Redis for long.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import orjson
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from subscriptions.breaker import CircuitBreaker, CircuitOpenError
from subscriptions.bus import Inbox, InProcessBus, channels_for
from subscriptions.envelope import Event

if TYPE_CHECKING:
    from subscriptions.sequencer import Sequencer

logger = logging.getLogger(__name__)

CHANNEL_PREFIX = "agentwire:"
RECONNECT_DELAYS = (0.2, 0.5, 1.0, 2.0)
# A pub/sub connection quiet this long is pinged; no pong within the socket timeout
# means Redis hangs, and the bus degrades to reading the database.
PING_AFTER_QUIET_SECONDS = 1.0
# Failures of calls to Redis that open the breaker (what a dead or hung Redis raises).
REDIS_FAILURES: tuple[type[BaseException], ...] = (RedisError, OSError, TimeoutError)


def redis_breaker(*, failures: int = 3, reset_seconds: float = 5.0) -> CircuitBreaker:
    """One per Redis server, shared by everything of this process that talks to it."""
    return CircuitBreaker(
        name="Redis", failures=failures, reset_seconds=reset_seconds, counted=REDIS_FAILURES
    )


# The pub/sub connection is always subscribed to this one, so it can be read from
# even while no task is watched.
IDLE_CHANNEL = CHANNEL_PREFIX + "_"


class RedisBus:
    """Local fan-out plus Redis pub/sub between instances."""

    def __init__(
        self,
        url: str,
        *,
        max_connections: int = 16,
        sequencer: Sequencer | None = None,
        socket_timeout: float = 0.5,
        connect_timeout: float = 0.5,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self._local = InProcessBus()
        # Gives committed events their cursor before they go out (PostgreSQL only).
        self._sequencer = sequencer
        self._origin = uuid.uuid4().hex
        self._socket_timeout = socket_timeout
        self._connect_timeout = connect_timeout
        self._breaker = breaker or redis_breaker()
        self._pool = BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=socket_timeout,
            socket_timeout=socket_timeout,
            socket_connect_timeout=connect_timeout,
        )
        self._client = Redis(connection_pool=self._pool)
        self._url = url
        self._pubsub: PubSub | None = None
        self._pubsub_client: Redis | None = None
        self._write_lock = asyncio.Lock()
        self._confirmations: dict[str, asyncio.Future[None]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._stopping = False
        self._publish_failures = 0

    @property
    def sequencer(self) -> Sequencer | None:
        """What numbers this bus's committed events before they go out (PostgreSQL)."""
        return self._sequencer

    @property
    def degraded(self) -> bool:
        return not self._connected.is_set()

    @property
    def subscriber_count(self) -> int:
        return self._local.subscriber_count

    async def start(self) -> None:
        if self._sequencer is not None:
            await self._sequencer.start(self.publish)
        self._reader = asyncio.create_task(self._read_forever(), name="agentwire-redis-bus")
        # Serve even when Redis is down at start: readers poll until it is up.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._connected.wait(), 3)

    async def stop(self) -> None:
        self._stopping = True
        if self._sequencer is not None:
            await self._sequencer.stop()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        await self._close_pubsub()
        await self._client.aclose()
        await self._pool.disconnect()
        await self._local.stop()

    async def publish(self, events: list[Event]) -> None:
        if self._sequencer is not None and self._sequencer.needs_positions(events):
            self._sequencer.submit(events, self._deliver)
            return
        await self._deliver(events)

    async def _deliver(self, events: list[Event]) -> None:
        await self._local.publish(events)
        if self.degraded:
            # Redis is unreachable: do not make the engine wait on a connect timeout per
            # event. Other instances are polling the database meanwhile.
            return
        try:
            await self._breaker.run(lambda: self._publish_remote(events))
            self._publish_failures = 0
        except CircuitOpenError:
            return  # Redis failed repeatedly: skipped until the breaker's next probe
        except REDIS_FAILURES as error:
            # Not fatal: the events are committed; other instances read them back
            # from the database (on the seq gap, their degraded polling or quiet recheck).
            self._publish_failures += 1
            if self._publish_failures == 1:
                logger.warning("publishing to Redis failed: %s", error)

    async def _publish_remote(self, events: list[Event]) -> None:
        async with self._client.pipeline(transaction=False) as pipe:
            for event in events:
                payload = orjson.dumps({"o": self._origin, "e": event.to_bus()})
                for channel in channels_for(event):
                    pipe.publish(CHANNEL_PREFIX + channel, payload)
            await pipe.execute()

    @asynccontextmanager
    async def subscribe(self, channel: str, *, maxsize: int = 1000) -> AsyncIterator[Inbox]:
        first = not self._local.has_subscribers(channel)
        async with self._local.subscribe(channel, maxsize=maxsize) as inbox:
            pending = self._confirmations.get(CHANNEL_PREFIX + channel)
            if first:
                await self._redis_subscribe(channel)
            elif pending is not None:
                # Another subscriber is still waiting for Redis to confirm this channel.
                with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                    await asyncio.wait_for(asyncio.shield(pending), self._socket_timeout)
            yield inbox
        if not self._local.has_subscribers(channel):
            await self._redis_unsubscribe(channel)

    # the pub/sub connection

    async def _redis_subscribe(self, channel: str) -> None:
        """Subscribe on Redis and wait for the confirmation, so no later event is missed."""
        pubsub = self._pubsub
        if pubsub is None or self.degraded:
            return  # the reader subscribes every local channel when it reconnects
        waiter = asyncio.get_running_loop().create_future()
        self._confirmations[CHANNEL_PREFIX + channel] = waiter
        try:
            async with self._write_lock:
                await pubsub.subscribe(CHANNEL_PREFIX + channel)
            await asyncio.wait_for(asyncio.shield(waiter), self._socket_timeout)
        except REDIS_FAILURES as error:
            # The subscriber still gets every event: it reads the database on the seq gap
            # or when the reader, finding Redis hung, degrades the bus and pokes it.
            logger.warning("subscribing to %s on Redis failed: %r", channel, error)
        finally:
            self._confirmations.pop(CHANNEL_PREFIX + channel, None)

    async def _redis_unsubscribe(self, channel: str) -> None:
        pubsub = self._pubsub
        if pubsub is None or self.degraded:
            return
        try:
            async with self._write_lock:
                # A new local subscriber may have arrived while we waited for the lock.
                if not self._local.has_subscribers(channel):
                    await pubsub.unsubscribe(CHANNEL_PREFIX + channel)
        except REDIS_FAILURES as error:
            logger.warning("unsubscribing from %s on Redis failed: %s", channel, error)

    async def _read_forever(self) -> None:
        attempt = 0
        while not self._stopping:
            try:
                await self._connect()
                attempt = 0
                await self._read_messages()
            except REDIS_FAILURES as error:
                if self._connected.is_set():
                    logger.warning("Redis pub/sub connection lost: %r; polling the database", error)
                    # The reader watches Redis for everyone: skip it now, not after the
                    # publisher and the rate limiter have each waited out their timeouts.
                    self._breaker.trip()
                self._set_disconnected()
            await self._close_pubsub()
            await asyncio.sleep(RECONNECT_DELAYS[min(attempt, len(RECONNECT_DELAYS) - 1)])
            attempt += 1

    async def _connect(self) -> None:
        client = Redis.from_url(
            self._url,
            socket_connect_timeout=self._connect_timeout,
            socket_timeout=self._socket_timeout,
        )
        pubsub = client.pubsub()
        self._pubsub_client, self._pubsub = client, pubsub
        channels = [CHANNEL_PREFIX + c for c in self._local.channels]
        async with self._write_lock:
            await pubsub.subscribe(IDLE_CHANNEL, *channels)
        # A hung Redis accepts the connection and the command (the kernel does) but never
        # confirms it: connected means Redis answered, not that the bytes went out.
        await self._await_confirmation(pubsub, IDLE_CHANNEL)
        self._connected.set()
        self._breaker.succeeded()
        logger.info("Redis pub/sub connected (%d channels)", len(channels) + 1)
        # Whatever was published while we were away is only in the database now.
        self._local.poke_all()

    async def _await_confirmation(self, pubsub: PubSub, channel: str) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._connect_timeout + self._socket_timeout
        while (remaining := deadline - loop.time()) > 0:
            message = await pubsub.get_message(timeout=remaining)
            if message is None:
                continue
            self._dispatch(message)
            if message["type"] == "subscribe" and _channel_of(message) == channel:
                return
        raise RedisTimeoutError("Redis accepted the connection but did not confirm SUBSCRIBE")

    async def _read_messages(self) -> None:
        pubsub = self._pubsub
        assert pubsub is not None
        loop = asyncio.get_running_loop()
        last_heard = loop.time()
        ping_sent_at: float | None = None
        while not self._stopping:
            wait = self._socket_timeout if ping_sent_at is not None else PING_AFTER_QUIET_SECONDS
            message = await pubsub.get_message(timeout=wait)
            now = loop.time()
            if message is not None:
                last_heard, ping_sent_at = now, None
                self._dispatch(message)
            elif ping_sent_at is not None:
                if now - ping_sent_at >= self._socket_timeout:
                    raise RedisTimeoutError(f"no pong from Redis within {self._socket_timeout:g} s")
            elif now - last_heard >= PING_AFTER_QUIET_SECONDS:
                async with self._write_lock:
                    await pubsub.ping()
                ping_sent_at = now

    def _dispatch(self, message: dict[str, Any]) -> None:
        channel = _channel_of(message)
        if message["type"] == "subscribe":
            waiter = self._confirmations.get(channel)
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
            return
        if message["type"] != "message":
            return
        try:
            body = orjson.loads(message["data"])
            if body.get("o") == self._origin:
                return  # already delivered locally at publish time
            event = Event.from_bus(body["e"])
        except (orjson.JSONDecodeError, KeyError, ValueError, TypeError):
            logger.warning("ignored a malformed message on %s", channel)
            return
        self._local.deliver_to(channel.removeprefix(CHANNEL_PREFIX), event)

    def _set_disconnected(self) -> None:
        was_connected = self._connected.is_set()
        self._connected.clear()
        if was_connected:
            # Wake every reader now, so it switches to polling without waiting.
            self._local.poke_all()

    async def _close_pubsub(self) -> None:
        pubsub, client = self._pubsub, self._pubsub_client
        self._pubsub = self._pubsub_client = None
        if pubsub is not None:
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]
        if client is not None:
            with contextlib.suppress(Exception):
                await client.aclose()


def _channel_of(message: dict[str, Any]) -> str:
    channel = message["channel"]
    return channel.decode() if isinstance(channel, bytes) else str(channel)
