"""Automatic persisted queries (Apollo's APQ protocol).

A client sends `extensions.persistedQuery = {version: 1, sha256Hash}` without the query; if the
hash is unknown it gets PERSISTED_QUERY_NOT_FOUND (HTTP 200, as Apollo Server answers) and sends
the query again together with the hash, which registers it. Works on GET and POST; a stored
mutation still cannot run over GET. Entries live in a per-process LRU and, when REDIS_URL is
set, in Redis too, so that every worker knows a query any worker has seen. Redis failures only
cost a cache miss.

Registration is bounded (issue 13, item 3): a document longer than
`graphql_apq_max_query_bytes` is refused (413, PERSISTED_QUERY_TOO_LARGE) before it is parsed;
a document is stored only after the request was counted by the rate limit and passed the
static limits and validation (`PersistedQueryRegistration`, listed after QueryLimits); the
local LRU is bounded in entries and in bytes; Redis entries carry a TTL of at most 7 days and
an index (a sorted set) keeps at most `graphql_apq_redis_max_entries` of them, the oldest
deleted first, so Redis holds at most max_entries x max_query_bytes.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from typing import Any

from strawberry.extensions import SchemaExtension

from gateway.config import Settings

log = logging.getLogger("gateway.graphql.apq")

# Store one entry, note it in the index (scored by time), then trim the index to its bound and
# delete the entries that fell out: atomic, so concurrent workers never overshoot the bound.
_STORE_SCRIPT = """
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
local excess = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[5])
if excess > 0 then
  local evicted = redis.call('ZPOPMIN', KEYS[2], excess)
  for i = 1, #evicted, 2 do
    redis.call('DEL', ARGV[6] .. evicted[i])
  end
end
return 1
"""


class PersistedQueryError(Exception):
    """A refused APQ request: answered as a GraphQL error with this code and HTTP status."""

    def __init__(self, message: str, code: str, status: int) -> None:
        super().__init__(message)
        self.message, self.code, self.status = message, code, status


NOT_FOUND = ("PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND", 200)


def digest_of(extension: object) -> str:
    """The hash of a well-formed `persistedQuery` extension (lower case), else the refusal."""
    if not isinstance(extension, dict) or extension.get("version") != 1:
        raise PersistedQueryError(
            "Unsupported persisted query version", "PERSISTED_QUERY_NOT_SUPPORTED", 400
        )
    digest = extension.get("sha256Hash")
    if not isinstance(digest, str) or len(digest) != 64:
        raise PersistedQueryError("sha256Hash must be 64 hex digits", "BAD_REQUEST", 400)
    return digest.lower()


class PersistedQueries:
    def __init__(self, settings: Settings) -> None:
        self._local: OrderedDict[str, str] = OrderedDict()
        self._local_bytes = 0
        self._size = settings.graphql_apq_cache_size
        self._max_bytes = settings.graphql_apq_cache_bytes
        self.max_query_bytes = settings.graphql_apq_max_query_bytes
        self._ttl = settings.graphql_apq_ttl_seconds
        self._redis_max_entries = settings.graphql_apq_redis_max_entries
        self._prefix = settings.graphql_apq_key_prefix
        self._redis: Any = None
        if settings.redis_url:
            from redis.asyncio import Redis

            self._redis = Redis.from_url(
                settings.redis_url,
                socket_timeout=settings.redis_timeout_seconds,
                socket_connect_timeout=settings.redis_timeout_seconds,
            )

    async def resolve(self, query: str | None, extension: object) -> str:
        """The query text to run for a request that carries `extensions.persistedQuery`.
        A query sent along is checked (size, hash) but not stored here: registration waits
        until the operation has passed the limits and validation."""
        digest = digest_of(extension)
        if query is None:
            found = await self.get(digest)
            if found is None:
                raise PersistedQueryError(*NOT_FOUND)
            return found
        self.check_registration(query, digest)
        return query

    def check_registration(self, query: str, digest: str) -> None:
        size = len(query.encode())
        if size > self.max_query_bytes:
            raise PersistedQueryError(
                f"A persisted query may have at most {self.max_query_bytes} bytes",
                "PERSISTED_QUERY_TOO_LARGE",
                413,
            )
        if hashlib.sha256(query.encode()).hexdigest() != digest:
            raise PersistedQueryError("provided sha does not match query", "BAD_REQUEST", 400)

    async def get(self, digest: str) -> str | None:
        if digest in self._local:
            self._local.move_to_end(digest)
            return self._local[digest]
        if self._redis is None:
            return None
        try:
            raw = await self._redis.get(self._prefix + digest)
        except Exception as exc:  # a cache, not a dependency: a Redis outage is a miss
            log.warning("APQ lookup in Redis failed: %s", exc)
            return None
        if raw is None:
            return None
        query = raw.decode() if isinstance(raw, bytes) else str(raw)
        self._remember(digest, query)
        return query

    async def put(self, digest: str, query: str) -> None:
        """Store a document that has passed the limits and validation (see the extension)."""
        known = digest in self._local
        self._remember(digest, query)
        if self._redis is None or known:
            return
        try:
            await self._redis.eval(
                _STORE_SCRIPT,
                2,
                self._prefix + digest,
                self._prefix + "index",
                query,
                self._ttl,
                time.time(),
                digest,
                self._redis_max_entries,
                self._prefix,
            )
        except Exception as exc:
            log.warning("APQ store in Redis failed: %s", exc)

    def _remember(self, digest: str, query: str) -> None:
        if len(query.encode()) > self.max_query_bytes:
            return  # also guards entries read back from a Redis written by older versions
        previous = self._local.pop(digest, None)
        if previous is not None:
            self._local_bytes -= len(previous)
        self._local[digest] = query
        self._local_bytes += len(query)
        while len(self._local) > self._size or self._local_bytes > self._max_bytes:
            _, evicted = self._local.popitem(last=False)
            self._local_bytes -= len(evicted)

    @property
    def local_bytes(self) -> int:
        return self._local_bytes

    def __len__(self) -> int:
        return len(self._local)

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()


class PersistedQueryRegistration(SchemaExtension):
    """Registers an APQ document once the request was counted by the rate limit and passed the
    static limits and validation: listed after GraphQLRateLimit and QueryLimits, whose
    `on_validate` run first. A refused or invalid document is never stored."""

    async def on_validate(self) -> AsyncIterator[None]:
        ec = self.execution_context
        extension = (ec.operation_extensions or {}).get("persistedQuery")
        if extension is not None and ec.query and ec.pre_execution_errors == []:
            await register(ec.context.gateway, ec.query, extension)
        yield


async def register(gateway: Any, query: str, extension: object) -> None:
    """Store an admitted, valid document under its hash (also from a WebSocket)."""
    store: PersistedQueries | None = getattr(gateway, "persisted_queries", None)
    try:
        digest = digest_of(extension)
        if store is not None:
            store.check_registration(query, digest)
            await store.put(digest, query)
    except PersistedQueryError:
        pass  # the HTTP view refused it already; elsewhere it is simply not stored
