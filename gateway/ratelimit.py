"""Rate limits for both faces, on the `limits` library (sliding window counters).

Categories: `auth` (per client IP: /token, /register, and each `login`/`register` field of a
GraphQL document), `chat` (per user: sending chat messages) and `default` (every other request
or GraphQL operation, per user, or per IP when anonymous). Counters live in memory, per
process, unless REDIS_URL is set: then every worker and instance shares them.

This is the core (categories, counting, the caller's key); each face applies it in its own
module: gateway/rest/rate_limit.py (a FastAPI dependency) and gateway/graphql/rate_limit.py
(a Strawberry extension)."""

from __future__ import annotations

import enum
import ipaddress
import logging
import math
import time
from collections.abc import Iterable, MutableMapping
from typing import TYPE_CHECKING, Any

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.errors import StorageError

from gateway.config import Settings
from gateway.errors import RateLimited, Unauthenticated
from gateway.observability import metrics

if TYPE_CHECKING:
    from gateway.auth.tokens import Tokens

log = logging.getLogger("gateway.ratelimit")

# An ASGI connection scope (as starlette.types.Scope), named here so that the core needs no
# web framework.
Scope = MutableMapping[str, Any]


class Category(enum.StrEnum):
    AUTH = "auth"
    CHAT = "chat"
    DEFAULT = "default"


# REST route templates and GraphQL root fields outside the `default` category. The chat flow's
# operations are listed here so that its module needs no rate-limit code of its own.
AUTH_ROUTES = frozenset({"/token", "/register"})
CHAT_ROUTES = frozenset({"/chat", "/sessions/{session_id}/resume_chat"})
UNLIMITED_ROUTES = frozenset(
    {"/health", "/health/ready", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"}
)
AUTH_FIELDS = frozenset({"login", "register"})
CHAT_FIELDS = frozenset({"sendMessage", "answerQuestion"})


def route_category(template: str) -> Category | None:
    """The category of a REST route template; None for routes that are never limited."""
    if template in UNLIMITED_ROUTES:
        return None
    if template in AUTH_ROUTES:
        return Category.AUTH
    if template in CHAT_ROUTES:
        return Category.CHAT
    return Category.DEFAULT


class SweptMemoryStorage(MemoryStorage):
    """limits' in-memory storage, its expired keys swept at most once per SWEEP_SECONDS.

    limits 5.8's MemoryStorage starts a task on every increment (every request) that walks
    every key it holds: 0.08 ms per request at 1,000 keys, 0.8 ms at 10,000, 5.8 ms at 50,000
    (`python -m bench.ratelimit_keys`), so a single process got slower with every caller it
    had seen in the last two minutes. Reads check expiry themselves (`get`), so the sweep only
    frees memory, and once a second frees it soon enough."""

    SWEEP_SECONDS = 1.0

    def __init__(self) -> None:
        self._last_sweep = -math.inf
        super().__init__()

    # The name MemoryStorage's own `self.__schedule_expiry()` calls resolve to (name mangling).
    async def _MemoryStorage__schedule_expiry(self) -> None:
        now = time.monotonic()
        if now - self._last_sweep < self.SWEEP_SECONDS:
            return
        self._last_sweep = now
        await super()._MemoryStorage__schedule_expiry()  # type: ignore[misc]


def _storage(settings: Settings) -> Storage:
    if not settings.redis_url:
        return SweptMemoryStorage()
    # Imported only when used: redis-py pulls in OpenTelemetry's SDK when that is installed.
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    url = settings.redis_url
    if not url.startswith("async+"):
        url = f"async+{url}"
    return RedisStorage(
        url,
        implementation="redispy",
        key_prefix=settings.rate_limit_key_prefix,
        wrap_exceptions=True,
        # A hung Redis must not add seconds to every request: short timeouts, no retries (the
        # limiter fails open on a storage error).
        socket_timeout=settings.redis_timeout_seconds,
        socket_connect_timeout=settings.redis_timeout_seconds,
        retry=Retry(NoBackoff(), 0),  # type: ignore[arg-type]  # passed on to redis-py
    )


class RateLimits:
    def __init__(self, settings: Settings, tokens: Tokens) -> None:
        self.enabled = settings.rate_limit_enabled
        self._tokens = tokens
        self._items: dict[Category, list[RateLimitItem]] = {
            Category.AUTH: parse_many(settings.rate_limit_auth),
            Category.CHAT: parse_many(settings.rate_limit_chat),
            Category.DEFAULT: parse_many(settings.rate_limit_default),
        }
        self._limiter = SlidingWindowCounterRateLimiter(_storage(settings))
        self._proxies = [ipaddress.ip_network(p, strict=False) for p in settings.trusted_proxies]

    async def hit(self, category: Category, key: str, cost: int = 1) -> None:
        """Count `cost` requests against `key`; RateLimited when that would pass a limit."""
        if not self.enabled or cost <= 0:
            return
        for item in self._items[category]:
            try:
                allowed = await self._limiter.hit(item, category.value, key, cost=cost)
                if allowed:
                    continue
                stats = await self._limiter.get_window_stats(item, category.value, key)
            except StorageError:
                # Fail open: an unreachable Redis must not take the whole API down with it.
                log.warning("rate limit storage unavailable; %s not counted", category)
                return
            metrics.RATE_LIMITED.labels(category.value).inc()
            raise RateLimited(max(1, math.ceil(stats.reset_time - time.time())))

    def _trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self._proxies)

    def client_ip(self, scope: Scope) -> str:
        """The peer address, or, when the peer is a configured proxy, the right-most
        X-Forwarded-For hop that is not one (hops further left are the client's say-so)."""
        client = scope.get("client")
        peer = str(client[0]) if client else "unknown"
        if not self._proxies or not self._trusted(peer):
            return peer
        hops = [
            hop.strip()
            for name, value in scope.get("headers") or []
            if name == b"x-forwarded-for"
            for hop in value.decode("latin-1").split(",")
            if hop.strip()
        ]
        for hop in reversed(hops):
            if not self._trusted(hop):
                return hop
        return hops[0] if hops else peer

    def caller(self, scope: Scope, token: str | None) -> str:
        """`user:<id>` for a valid bearer token (checked without the database), else `ip:<ip>`."""
        if token:
            try:
                return f"user:{self._tokens.verify(token).user_id}"
            except Unauthenticated:
                pass
        return f"ip:{self.client_ip(scope)}"

    async def check(self, scope: Scope, token: str | None, counts: dict[Category, int]) -> None:
        for category, cost in counts.items():
            key = (
                f"ip:{self.client_ip(scope)}"
                if category is Category.AUTH
                else self.caller(scope, token)
            )
            await self.hit(category, key, cost)


def operation_counts(fields: Iterable[str]) -> dict[Category, int]:
    """Each auth or chat field counts once in its category; anything else once in all. A
    document with nothing countable (no operation to run) still costs one default request."""
    counts = {Category.AUTH: 0, Category.CHAT: 0, Category.DEFAULT: 0}
    for field in fields:
        if field in AUTH_FIELDS:
            counts[Category.AUTH] += 1
        elif field in CHAT_FIELDS:
            counts[Category.CHAT] += 1
        else:
            counts[Category.DEFAULT] = 1
    if not any(counts.values()):
        counts[Category.DEFAULT] = 1
    return {category: n for category, n in counts.items() if n}
