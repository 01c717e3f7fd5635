"""Fan-out of stored messages to subscribers: in-process, or across processes via Redis.

Each process keeps ONE Redis pub/sub connection and fans out locally, so a thousand open
subscriptions cost a thousand queues, not a thousand Redis connections."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

import orjson

from gateway.observability.metrics import BROKER_FAILURES

log = logging.getLogger("gateway.pubsub")
QUEUE_SIZE = 256
PREFIX = "gateway:chat:"
# After a failed publish, Redis is left alone this long: a hung Redis costs one timeout per
# interval, not one per chat.
RETRY_AFTER_SECONDS = 5.0


class Broker(Protocol):
    async def publish(self, channel: str, event: dict[str, Any]) -> None:
        """Fan an event out. Never raises: a fan-out failure must not fail the chat."""
        ...

    def subscribe(
        self, channel: str
    ) -> contextlib.AbstractAsyncContextManager[asyncio.Queue[dict[str, Any]]]: ...

    def subscribers(self, channel: str) -> int: ...

    async def close(self) -> None: ...


class MemoryBroker:
    def __init__(self) -> None:
        self._queues: defaultdict[str, set[asyncio.Queue[dict[str, Any]]]] = defaultdict(set)

    def subscribers(self, channel: str) -> int:
        return len(self._queues.get(channel, ()))

    def deliver(self, channel: str, event: dict[str, Any]) -> None:
        for queue in list(self._queues.get(channel, ())):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:  # a stalled subscriber loses events, never blocks others
                log.warning("dropping an event for a slow subscriber on %s", channel)

    async def publish(self, channel: str, event: dict[str, Any]) -> None:
        self.deliver(channel, event)

    def add(self, channel: str) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        self._queues[channel].add(queue)
        return queue

    def discard(self, channel: str, queue: asyncio.Queue[dict[str, Any]]) -> bool:
        """True when that was the channel's last local subscriber."""
        queues = self._queues.get(channel)
        if queues is None:
            return False
        queues.discard(queue)
        if not queues:
            del self._queues[channel]
            return True
        return False

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
        queue = self.add(channel)
        try:
            yield queue
        finally:
            self.discard(channel, queue)

    async def close(self) -> None:
        self._queues.clear()


class RedisBroker:
    def __init__(self, url: str, timeout: float = 0.5) -> None:
        from redis import asyncio as aioredis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        # redis-py's defaults (5 s timeouts, 3 retries with backoff) turned a hung Redis into
        # 20 s per chat.
        self._redis = aioredis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
        )
        self._down_until = 0.0
        self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        self._local = MemoryBroker()
        self._lock = asyncio.Lock()
        self._reader: asyncio.Task[None] | None = None
        self._pending: set[str] = set()  # channels to subscribe once Redis is back

    def subscribers(self, channel: str) -> int:
        return self._local.subscribers(channel)

    async def publish(self, channel: str, event: dict[str, Any]) -> None:
        """Through Redis to every process (this one's subscribers hear it from the reader);
        when Redis fails, to this process's subscribers directly."""
        if time.monotonic() >= self._down_until:
            try:
                await self._redis.publish(PREFIX + channel, orjson.dumps(event))
                return
            except Exception:
                self._down_until = time.monotonic() + RETRY_AFTER_SECONDS
                log.warning("redis publish failed; delivering in this process only", exc_info=True)
        BROKER_FAILURES.labels("publish").inc()
        self._local.deliver(channel, event)

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
        async with self._lock:
            first = self._local.subscribers(channel) == 0
            queue = self._local.add(channel)
            if first:
                try:
                    await self._pubsub.subscribe(PREFIX + channel)
                except Exception:
                    # Redis is down: this process's own messages still reach the subscriber
                    # (publish falls back to local delivery); the reader subscribes it later.
                    self._pending.add(channel)
                    BROKER_FAILURES.labels("subscribe").inc()
                    log.warning(
                        "redis subscribe failed; local delivery only for now", exc_info=True
                    )
            if self._reader is None or self._reader.done():
                self._reader = asyncio.create_task(self._read(), name="redis-pubsub-reader")
        try:
            yield queue
        finally:
            async with self._lock:
                if self._local.discard(channel, queue):
                    self._pending.discard(channel)
                    with contextlib.suppress(Exception):
                        await self._pubsub.unsubscribe(PREFIX + channel)

    async def _resubscribe_pending(self) -> None:
        async with self._lock:
            if not self._pending:
                return
            channels = sorted(self._pending)
            await self._pubsub.subscribe(*(PREFIX + c for c in channels))
            self._pending.difference_update(channels)
            log.info("redis is back: subscribed %d waiting channel(s)", len(channels))

    async def _read(self) -> None:
        while True:
            try:
                await self._resubscribe_pending()
                message = await self._pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis restarted or the network blipped: redis-py resubscribes
                log.warning("redis pub/sub read failed; retrying", exc_info=True)
                await asyncio.sleep(1.0)
                continue
            if message is None or message.get("type") != "message":
                continue
            channel = message["channel"]
            if isinstance(channel, bytes):
                channel = channel.decode()
            try:
                event = orjson.loads(message["data"])
            except orjson.JSONDecodeError:
                continue
            self._local.deliver(channel.removeprefix(PREFIX), event)

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        with contextlib.suppress(Exception):
            await self._pubsub.aclose()
        await self._redis.aclose()


def build_broker(redis_url: str | None, timeout: float = 0.5) -> MemoryBroker | RedisBroker:
    return RedisBroker(redis_url, timeout) if redis_url else MemoryBroker()
