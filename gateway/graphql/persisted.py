"""Automatic persisted queries (Apollo's APQ protocol).

A client sends `extensions.persistedQuery = {version: 1, sha256Hash}` without the query; if the
hash is unknown it gets PERSISTED_QUERY_NOT_FOUND (HTTP 200, as Apollo Server answers) and sends
the query again together with the hash, which registers it. Works on GET and POST; a stored
mutation still cannot run over GET. Entries live in a per-process LRU and, when REDIS_URL is
set, in Redis too, so that every worker knows a query any worker has seen. Redis failures only
cost a cache miss.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from typing import Any

from gateway.config import Settings

log = logging.getLogger("gateway.graphql.apq")

_KEY_PREFIX = "gateway:apq:"


class PersistedQueryError(Exception):
    """A refused APQ request: answered as a GraphQL error with this code and HTTP status."""

    def __init__(self, message: str, code: str, status: int) -> None:
        super().__init__(message)
        self.message, self.code, self.status = message, code, status


NOT_FOUND = ("PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND", 200)


class PersistedQueries:
    def __init__(self, settings: Settings) -> None:
        self._local: OrderedDict[str, str] = OrderedDict()
        self._size = settings.graphql_apq_cache_size
        self._ttl = settings.graphql_apq_ttl_seconds
        self._redis: Any = None
        if settings.redis_url:
            from redis.asyncio import Redis

            self._redis = Redis.from_url(
                settings.redis_url, socket_timeout=0.5, socket_connect_timeout=0.5
            )

    async def resolve(self, query: str | None, extension: object) -> str:
        """The query text to run for a request that carries `extensions.persistedQuery`."""
        if not isinstance(extension, dict) or extension.get("version") != 1:
            raise PersistedQueryError(
                "Unsupported persisted query version", "PERSISTED_QUERY_NOT_SUPPORTED", 400
            )
        digest = extension.get("sha256Hash")
        if not isinstance(digest, str) or len(digest) != 64:
            raise PersistedQueryError("sha256Hash must be 64 hex digits", "BAD_REQUEST", 400)
        digest = digest.lower()
        if query is None:
            found = await self.get(digest)
            if found is None:
                raise PersistedQueryError(*NOT_FOUND)
            return found
        if hashlib.sha256(query.encode()).hexdigest() != digest:
            raise PersistedQueryError("provided sha does not match query", "BAD_REQUEST", 400)
        await self.put(digest, query)
        return query

    async def get(self, digest: str) -> str | None:
        if digest in self._local:
            self._local.move_to_end(digest)
            return self._local[digest]
        if self._redis is None:
            return None
        try:
            raw = await self._redis.get(_KEY_PREFIX + digest)
        except Exception as exc:  # a cache, not a dependency: a Redis outage is a miss
            log.warning("APQ lookup in Redis failed: %s", exc)
            return None
        if raw is None:
            return None
        query = raw.decode() if isinstance(raw, bytes) else str(raw)
        self._remember(digest, query)
        return query

    async def put(self, digest: str, query: str) -> None:
        known = digest in self._local
        self._remember(digest, query)
        if self._redis is None or known:
            return
        try:
            await self._redis.set(_KEY_PREFIX + digest, query, ex=self._ttl)
        except Exception as exc:
            log.warning("APQ store in Redis failed: %s", exc)

    def _remember(self, digest: str, query: str) -> None:
        self._local[digest] = query
        self._local.move_to_end(digest)
        while len(self._local) > self._size:
            self._local.popitem(last=False)

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
