"""Issue 13, item 3: APQ registration is bounded per entry and in total, stores only valid
documents, and only after the rate limit has counted the request."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from pydantic import ValidationError
from redis.asyncio import Redis

from gateway.app import Gateway, create_app
from gateway.config import Settings
from tests.conftest import make_settings
from tests.graphql.test_persisted_queries import REDIS_URL, apq, sha

Client = tuple[httpx.AsyncClient, Gateway]


@asynccontextmanager
async def app_for(settings: Settings, **overrides: Any) -> AsyncIterator[Client]:
    app: Any = create_app(make_settings(settings.database_url, **overrides))
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c, app.state.gateway


def padded(size: int) -> str:
    """A valid document of about `size` bytes: a comment costs bytes but no tokens."""
    head = f"query Q{uuid.uuid4().hex} {{ __typename }}\n#"
    return head + "x" * max(0, size - len(head))


async def register(client: httpx.AsyncClient, query: str) -> httpx.Response:
    return await client.post("/graphql", json={"query": query, "extensions": apq(sha(query))})


async def lookup_code(client: httpx.AsyncClient, query: str) -> str | None:
    r = await client.post("/graphql", json={"extensions": apq(sha(query))})
    errors = r.json().get("errors")
    return errors[0]["extensions"]["code"] if errors else None


async def test_an_oversized_document_is_refused_and_not_stored(settings: Settings) -> None:
    async with app_for(settings) as (client, gateway):
        big = padded(1_000_000)
        r = await register(client, big)
        assert r.status_code == 413
        assert r.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_TOO_LARGE"
        assert await lookup_code(client, big) == "PERSISTED_QUERY_NOT_FOUND"
        assert len(gateway.persisted_queries) == 0
        # Within the bound (64 KiB by default) it registers as before.
        fits = padded(60_000)
        assert (await register(client, fits)).json() == {"data": {"__typename": "Query"}}
        assert await lookup_code(client, fits) is None


async def test_an_invalid_document_is_not_stored(settings: Settings) -> None:
    async with app_for(settings) as (client, gateway):
        invalid = f"query Q{uuid.uuid4().hex} {{ noSuchField }}"
        r = await register(client, invalid)
        assert r.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        assert await lookup_code(client, invalid) == "PERSISTED_QUERY_NOT_FOUND"
        assert len(gateway.persisted_queries) == 0


async def test_a_rate_limited_document_is_not_stored(settings: Settings) -> None:
    async with app_for(settings, rate_limit_default="1/minute") as (client, gateway):
        first = padded(100)
        assert (await register(client, first)).json() == {"data": {"__typename": "Query"}}
        second = padded(100)
        r = await register(client, second)
        assert r.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        assert await gateway.persisted_queries.get(sha(second)) is None
        assert len(gateway.persisted_queries) == 1


async def test_the_local_cache_is_bounded_in_bytes(settings: Settings) -> None:
    async with app_for(settings, graphql_apq_cache_bytes=100_000) as (client, gateway):
        documents = [padded(40_000) for _ in range(4)]
        for document in documents:
            assert (await register(client, document)).status_code == 200
        store = gateway.persisted_queries
        assert store.local_bytes <= 100_000
        assert len(store) == 2
        assert await lookup_code(client, documents[0]) == "PERSISTED_QUERY_NOT_FOUND"
        assert await lookup_code(client, documents[-1]) is None


async def test_redis_holds_a_bounded_number_of_entries_for_a_bounded_time(
    settings: Settings,
) -> None:
    prefix = f"gw-test-apq-{uuid.uuid4().hex}:"
    options: dict[str, Any] = {
        "redis_url": REDIS_URL,
        "graphql_apq_key_prefix": prefix,
        "graphql_apq_redis_max_entries": 3,
        "graphql_apq_ttl_seconds": 600,
    }
    redis = Redis.from_url(REDIS_URL)
    try:
        async with app_for(settings, **options) as (client, _):
            documents = [padded(200) for _ in range(5)]
            for document in documents:
                assert (await register(client, document)).status_code == 200
            too_big = padded(100_000)
            assert (await register(client, too_big)).status_code == 413
        entries = [key async for key in redis.scan_iter(match=f"{prefix}*") if key != b"x"]
        stored = sorted(
            k.decode().removeprefix(prefix) for k in entries if not k.endswith(b"index")
        )
        assert stored == sorted(sha(d) for d in documents[2:])
        assert await redis.zcard(f"{prefix}index") == 3
        for key in entries:
            assert 0 < await redis.ttl(key) <= 600 or key.endswith(b"index")
        # A second process (no local cache) finds the newest, not the evicted.
        async with app_for(settings, **options) as (other, _):
            assert await lookup_code(other, documents[-1]) is None
            assert await lookup_code(other, documents[0]) == "PERSISTED_QUERY_NOT_FOUND"
    finally:
        keys = [key async for key in redis.scan_iter(match=f"{prefix}*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()


def test_the_redis_lifetime_is_bounded() -> None:
    with pytest.raises(ValidationError):
        Settings(graphql_apq_ttl_seconds=30 * 86_400)
