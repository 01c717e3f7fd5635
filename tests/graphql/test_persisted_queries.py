"""Automatic persisted queries (Apollo APQ) on GET and POST, shared across workers via Redis."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from asgi_lifespan import LifespanManager

from gateway.app import create_app
from gateway.config import Settings
from tests.conftest import PASSWORD, Api, make_settings

REDIS_URL = os.environ.get("GATEWAY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def sha(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


def apq(digest: str, version: int = 1) -> dict[str, Any]:
    return {"persistedQuery": {"version": version, "sha256Hash": digest}}


def unique_query() -> str:
    # A fresh text (hence hash) per test: Redis outlives the test run.
    return f"query Q{uuid.uuid4().hex} {{ __typename }}"


@asynccontextmanager
async def client_for(settings: Settings, **overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
    app: Any = create_app(make_settings(settings.database_url, **overrides))
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


async def test_unknown_hash_then_register_then_hash_only(api: Api) -> None:
    query = unique_query()
    missing = await api.client.post("/graphql", json={"extensions": apq(sha(query))})
    assert missing.status_code == 200
    assert missing.json() == {
        "errors": [
            {
                "message": "PersistedQueryNotFound",
                "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"},
            }
        ]
    }
    assert "no-cache" in missing.headers["cache-control"]
    registered = await api.client.post(
        "/graphql", json={"query": query, "extensions": apq(sha(query))}
    )
    assert registered.json() == {"data": {"__typename": "Query"}}
    by_hash = await api.client.post("/graphql", json={"extensions": apq(sha(query))})
    assert by_hash.json() == {"data": {"__typename": "Query"}}


async def test_get_with_hash_only(api: Api) -> None:
    query = unique_query()
    params = {"extensions": json.dumps(apq(sha(query)))}
    browser = {"Accept": "text/html,*/*"}  # not mistaken for a GraphiQL page request
    missing = await api.client.get("/graphql", params=params, headers=browser)
    assert missing.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    await api.client.get("/graphql", params={**params, "query": query})
    found = await api.client.get("/graphql", params=params, headers=browser)
    assert found.json() == {"data": {"__typename": "Query"}}


async def test_hash_mismatch_refused_and_not_run(api: Api) -> None:
    mutation = (
        'mutation { register(input: {username: "apqmismatch", email: "m@example.com", '
        f'password: "{PASSWORD}"}}) {{ user {{ username }} }} }}'
    )
    r = await api.client.post(
        "/graphql", json={"query": mutation, "extensions": apq(sha("something else"))}
    )
    assert r.status_code == 400
    assert r.json()["errors"][0] == {
        "message": "provided sha does not match query",
        "extensions": {"code": "BAD_REQUEST"},
    }
    login = await api.client.post("/token", data={"username": "apqmismatch", "password": PASSWORD})
    assert login.status_code == 401


async def test_bad_version_and_bad_hash(api: Api) -> None:
    query = unique_query()
    r = await api.client.post("/graphql", json={"query": query, "extensions": apq(sha(query), 2)})
    assert r.status_code == 400
    assert r.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_SUPPORTED"
    r = await api.client.post("/graphql", json={"extensions": apq("abc")})
    assert r.status_code == 400
    assert r.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    r = await api.client.post("/graphql", json={"extensions": {"persistedQuery": "x"}})
    assert r.status_code == 400


async def test_stored_mutation_cannot_run_over_get(api: Api) -> None:
    token = await api.user("apqget")
    auth = {"Authorization": f"Bearer {token}"}
    rename = 'mutation { updateMe(input: {fullName: "%s"}) { user { fullName } } }'
    to_x, to_y = rename % "X", rename % "Y"
    await api.client.post(
        "/graphql", json={"query": to_x, "extensions": apq(sha(to_x))}, headers=auth
    )
    await api.client.post("/graphql", json={"query": to_y}, headers=auth)
    again = await api.client.get(
        "/graphql", params={"extensions": json.dumps(apq(sha(to_x)))}, headers=auth
    )
    assert again.status_code == 400
    assert "mutations are not allowed when using GET" in again.json()["errors"][0]["message"]
    me = await api.client.get("/users/me", headers=auth)
    assert me.json()["full_name"] == "Y"


async def test_limits_apply_to_persisted_queries(api: Api) -> None:
    query = "{ " + " ".join(f"a{i}: __typename" for i in range(40)) + " }"
    r = await api.client.post("/graphql", json={"query": query, "extensions": apq(sha(query))})
    assert r.json()["errors"][0]["extensions"]["code"] == "TOO_MANY_ALIASES"
    # A refused document is not registered (issue 13, item 3).
    r = await api.client.post("/graphql", json={"extensions": apq(sha(query))})
    assert r.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


async def test_shared_between_workers_through_redis(settings: Settings) -> None:
    query = unique_query()
    async with (
        client_for(settings, redis_url=REDIS_URL) as worker_a,
        client_for(settings, redis_url=REDIS_URL) as worker_b,
        client_for(settings) as no_redis,
    ):
        await worker_a.post("/graphql", json={"query": query, "extensions": apq(sha(query))})
        found = await worker_b.post("/graphql", json={"extensions": apq(sha(query))})
        assert found.json() == {"data": {"__typename": "Query"}}
        alone = await no_redis.post("/graphql", json={"extensions": apq(sha(query))})
        assert alone.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def test_redis_down_is_only_a_cache_miss(settings: Settings) -> None:
    query = unique_query()
    async with client_for(settings, redis_url=f"redis://127.0.0.1:{closed_port()}/0") as client:
        missing = await client.post("/graphql", json={"extensions": apq(sha(query))})
        assert missing.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
        await client.post("/graphql", json={"query": query, "extensions": apq(sha(query))})
        found = await client.post("/graphql", json={"extensions": apq(sha(query))})
        assert found.json() == {"data": {"__typename": "Query"}}


async def test_local_cache_is_bounded(settings: Settings) -> None:
    queries = [unique_query() for _ in range(3)]
    async with client_for(settings, graphql_apq_cache_size=2) as client:
        for query in queries:
            await client.post("/graphql", json={"query": query, "extensions": apq(sha(query))})
        oldest = await client.post("/graphql", json={"extensions": apq(sha(queries[0]))})
        newest = await client.post("/graphql", json={"extensions": apq(sha(queries[2]))})
    assert oldest.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    assert newest.json() == {"data": {"__typename": "Query"}}


async def test_apq_can_be_turned_off(settings: Settings) -> None:
    query = unique_query()
    async with client_for(settings, graphql_apq=False) as client:
        r = await client.post("/graphql", json={"query": query, "extensions": apq(sha(query))})
    assert r.status_code == 400
    assert r.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_SUPPORTED"
