"""How many GraphQL WebSockets each user holds open, across every gateway process.

A socket takes a lease when its connection_init is accepted, renews it while open and gives it
back when it closes. A lease that is not renewed (its process was killed) lapses on its own, so
a crash never leaves a user locked out. In memory per process without Redis; in a Redis sorted
set per user (member: the socket, score: when its lease lapses) when REDIS_URL is set."""

from __future__ import annotations

import logging
import time
from typing import Protocol

log = logging.getLogger("gateway.sockets")
PREFIX = "gateway:ws:user:"


class SocketLeases(Protocol):
    async def acquire(self, user: str, socket: str, limit: int, ttl: float) -> bool: ...

    async def renew(self, user: str, socket: str, ttl: float) -> None: ...

    async def release(self, user: str, socket: str) -> None: ...

    async def close(self) -> None: ...


class MemoryLeases:
    def __init__(self) -> None:
        self._leases: dict[str, dict[str, float]] = {}

    def _live(self, user: str) -> dict[str, float]:
        now = time.monotonic()
        leases = self._leases.setdefault(user, {})
        for socket in [s for s, until in leases.items() if until <= now]:
            del leases[socket]
        return leases

    async def acquire(self, user: str, socket: str, limit: int, ttl: float) -> bool:
        leases = self._live(user)
        if len(leases) >= limit:
            return False
        leases[socket] = time.monotonic() + ttl
        return True

    async def renew(self, user: str, socket: str, ttl: float) -> None:
        self._live(user)[socket] = time.monotonic() + ttl

    async def release(self, user: str, socket: str) -> None:
        leases = self._live(user)
        leases.pop(socket, None)
        if not leases:
            del self._leases[user]

    async def close(self) -> None:
        self._leases.clear()


# Drop lapsed leases, count, and add ours only when under the limit: one atomic step.
_ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""


class RedisLeases:
    """Fails open: with Redis unreachable a socket is admitted (and logged), because live chat
    matters more than this cap; the per-connection operation cap and rate limits still hold."""

    def __init__(self, url: str, timeout: float) -> None:
        from redis import asyncio as aioredis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        self._redis = aioredis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0)
        )
        self._acquire = self._redis.register_script(_ACQUIRE)

    async def acquire(self, user: str, socket: str, limit: int, ttl: float) -> bool:
        now = time.time()
        try:
            keys = [PREFIX + user]
            args: list[float | int | str] = [now, now + ttl, limit, socket, int(ttl) + 1]
            return bool(await self._acquire(keys=keys, args=args))
        except Exception:
            log.warning("socket lease store unavailable; admitting the socket", exc_info=True)
            return True

    async def renew(self, user: str, socket: str, ttl: float) -> None:
        try:
            await self._redis.zadd(PREFIX + user, {socket: time.time() + ttl})
            await self._redis.expire(PREFIX + user, int(ttl) + 1)
        except Exception:
            log.warning("socket lease store unavailable; lease not renewed", exc_info=True)

    async def release(self, user: str, socket: str) -> None:
        try:
            await self._redis.zrem(PREFIX + user, socket)
        except Exception:
            log.warning("socket lease store unavailable; lease left to lapse", exc_info=True)

    async def close(self) -> None:
        await self._redis.aclose()


def build_leases(redis_url: str | None, timeout: float = 1.0) -> MemoryLeases | RedisLeases:
    return RedisLeases(redis_url, timeout) if redis_url else MemoryLeases()
