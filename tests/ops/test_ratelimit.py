"""Rate limits on both faces: auth per IP, everything else per user (per IP when anonymous)."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import time
import uuid

import pytest
from limits import parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter

from gateway.graphql.rate_limit import root_fields
from gateway.ratelimit import Category, SweptMemoryStorage, operation_counts
from tests.conftest import PASSWORD, Api
from tests.ops.conftest import AppFactory, free_port

REDIS_URL = os.environ.get("GATEWAY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

LOGIN = 'mutation { login(input: {username: "u", password: "wrong-password"}) { accessToken } }'


def logins(n: int) -> str:
    fields = " ".join(
        f'a{i}: login(input: {{username: "u", password: "wrong-{i}"}}) {{ accessToken }}'
        for i in range(n)
    )
    return f"mutation {{ {fields} }}"


async def post_token(api: Api, **headers: str) -> int:
    r = await api.client.post(
        "/token", data={"username": "nobody", "password": "whatever"}, headers=headers
    )
    return r.status_code


async def test_rest_auth_limit_is_5_per_minute_per_ip_with_retry_after(
    make_api: AppFactory,
) -> None:
    async with make_api(rate_limit_auth="5/minute") as api:
        statuses = [await post_token(api) for _ in range(5)]
        assert statuses == [401] * 5
        r = await api.client.post("/token", data={"username": "nobody", "password": "x"})
        assert r.status_code == 429
        assert r.json() == {"detail": "Rate limit exceeded"}
        assert 1 <= int(r.headers["retry-after"]) <= 60
        # /register shares the auth budget of the same IP.
        reg = await api.register("late")
        assert reg.status_code == 429


async def test_graphql_login_counts_as_an_auth_request(make_api: AppFactory) -> None:
    async with make_api(rate_limit_auth="5/minute") as api:
        for _ in range(3):
            await post_token(api)  # REST and GraphQL share one budget per IP
        body = await api.gql(logins(2))  # two auth requests; the first failure ends it
        assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]
        body = await api.gql(LOGIN)
        assert body["data"] is None
        (error,) = body["errors"]
        assert error["extensions"]["code"] == "RATE_LIMITED"
        assert 1 <= error["extensions"]["retryAfter"] <= 60
        assert error["message"] == "Rate limit exceeded"


async def test_a_document_with_many_logins_counts_each(make_api: AppFactory) -> None:
    async with make_api(rate_limit_auth="5/minute") as api:
        await api.client.post(
            "/register", json={"username": "real", "email": "r@example.com", "password": PASSWORD}
        )
        # Six logins in one document: refused whole, before any password is checked.
        body = await api.gql(logins(6))
        assert body["data"] is None
        assert [e["extensions"]["code"] for e in body["errors"]] == ["RATE_LIMITED"]
        # Aliases hidden in a fragment count too; the budget left is 4 (register used 1).
        fragment = (
            "mutation { ...F } fragment F on Mutation { "
            + " ".join(
                f'x{i}: login(input: {{username: "real", password: "bad-{i}"}}) {{ accessToken }}'
                for i in range(5)
            )
            + " }"
        )
        body = await api.gql(fragment)
        assert [e["extensions"]["code"] for e in body["errors"]] == ["RATE_LIMITED"]
        body = await api.gql(logins(4))  # fits the budget exactly and executes
        assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]
        r = await api.client.post("/token", data={"username": "real", "password": PASSWORD})
        assert r.status_code == 429


async def test_default_limit_is_per_user_and_per_ip_when_anonymous(make_api: AppFactory) -> None:
    async with make_api(rate_limit_default="3/minute") as api:
        alice = await api.user("alice")
        bob = await api.user("bob")

        async def me(token: str | None) -> int:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            return (await api.client.get("/users/me", headers=headers)).status_code

        assert [await me(alice) for _ in range(3)] == [200, 200, 200]
        r = await api.client.get("/users/me", headers={"Authorization": f"Bearer {alice}"})
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        # GraphQL operations draw on the same per-user budget.
        body = await api.gql("{ me { username } }", token=alice)
        assert body["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        # Another user has a budget of their own; so has the anonymous caller (per IP).
        assert await me(bob) == 200
        assert [await me(None) for _ in range(3)] == [401, 401, 401]
        assert await me(None) == 429
        # Health, metrics and docs are never limited.
        for path in ("/health", "/health/ready", "/metrics", "/openapi.json", "/docs"):
            assert (await api.client.get(path)).status_code == 200, path


async def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(
    make_api: AppFactory,
) -> None:
    async with make_api(rate_limit_auth="2/minute") as api:
        # The test client's address is 127.0.0.1, which is not configured as a proxy here:
        # spoofing a new X-Forwarded-For per request does not buy a new budget.
        codes = [await post_token(api, **{"X-Forwarded-For": f"10.0.0.{i}"}) for i in range(3)]
        assert codes == [401, 401, 429]
    async with make_api(rate_limit_auth="2/minute", trusted_proxies=["127.0.0.1/32"]) as api:
        # Behind a trusted proxy each client is counted on its own: the right-most hop the
        # proxy added, whatever the client itself prepended.
        one = {"X-Forwarded-For": "1.1.1.1, 203.0.113.5"}
        other = {"X-Forwarded-For": "203.0.113.6"}
        assert [await post_token(api, **one) for _ in range(3)] == [401, 401, 429]
        assert [await post_token(api, **other) for _ in range(2)] == [401, 401]
        forged = {"X-Forwarded-For": "9.9.9.9, 203.0.113.5"}
        assert await post_token(api, **forged) == 429


async def test_limits_can_be_switched_off(make_api: AppFactory) -> None:
    async with make_api(rate_limit_auth="1/minute", rate_limit_enabled=False) as api:
        assert [await post_token(api) for _ in range(3)] == [401, 401, 401]


async def test_redis_shares_counters_between_processes(make_api: AppFactory) -> None:
    """Two apps (as two workers or two instances would be) on one Redis share one budget."""
    prefix = f"gw-test-{uuid.uuid4().hex}"
    options = {
        "rate_limit_auth": "3/minute",
        "redis_url": REDIS_URL,
        "rate_limit_key_prefix": prefix,
    }
    async with make_api(**options) as first, make_api(**options) as second:
        assert await post_token(first) == 401
        assert await post_token(second) == 401
        assert await post_token(first) == 401
        assert await post_token(second) == 429
        body = await first.gql(LOGIN)
        assert body["errors"][0]["extensions"]["code"] == "RATE_LIMITED"


async def test_an_unreachable_redis_fails_open_and_says_so(make_api: AppFactory) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    from gateway.observability.logging import JsonFormatter, RequestIdFilter

    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("gateway.ratelimit")
    logger.addHandler(handler)
    try:
        dead = f"redis://127.0.0.1:{free_port()}/0"
        async with make_api(rate_limit_auth="1/minute", redis_url=dead) as api:
            codes = [await post_token(api, **{"X-Request-ID": f"rl-{i}"}) for i in range(2)]
        assert codes == [401, 401]
    finally:
        logger.removeHandler(handler)
    warnings = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [w["request_id"] for w in warnings] == ["rl-0", "rl-1"]
    assert all("storage unavailable" in w["message"] for w in warnings)


@pytest.mark.parametrize(
    ("document", "name", "expected"),
    [
        ("{ me { username } }", None, {Category.DEFAULT: 1}),
        (logins(3), None, {Category.AUTH: 3}),
        (
            "mutation { a: login(input: $i) { accessToken } a: login(input: $i) { accessToken } }",
            None,
            {Category.AUTH: 1},
        ),
        (
            "mutation { sendMessage(input: {}) { id } me: updateMe(input: {}) { user { id } } }",
            None,
            {Category.CHAT: 1, Category.DEFAULT: 1},
        ),
        (
            "mutation { ... on Mutation { answerQuestion(input: {}) { id } } }",
            None,
            {Category.CHAT: 1},
        ),
        (
            "query A { me { id } } mutation B { register(input: {}) { user { id } } }",
            "B",
            {Category.AUTH: 1},
        ),
        # Nothing would run, but the request was made: it costs one default request.
        (
            "query A { me { id } } mutation B { register(input: {}) { user { id } } }",
            "C",
            {Category.DEFAULT: 1},
        ),
    ],
)
def test_operation_counting(document: str, name: str | None, expected: dict[Category, int]) -> None:
    """Chat operations belong to another module; their counting rule is pinned here."""
    from graphql import parse

    assert operation_counts(root_fields(parse(document), name)) == expected


async def test_the_memory_storage_sweeps_at_most_once_a_period(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """limits' MemoryStorage walked every key on every hit (a task per request, O(keys)):
    SweptMemoryStorage sweeps once per SWEEP_SECONDS, and the sweep still frees expired keys."""
    sweeps: list[float] = []
    library_sweep = MemoryStorage._MemoryStorage__expire_events  # type: ignore[attr-defined]

    async def counted(self: MemoryStorage) -> None:
        sweeps.append(time.monotonic())
        await library_sweep(self)

    monkeypatch.setattr(MemoryStorage, "_MemoryStorage__expire_events", counted)
    storage = SweptMemoryStorage()
    storage.SWEEP_SECONDS = 3600.0
    limiter = SlidingWindowCounterRateLimiter(storage)
    item = parse("1000/minute")
    for n in range(300):
        assert await limiter.hit(item, f"user{n % 30}")
        await asyncio.sleep(0)  # a sweep task, if one was started, runs now
    assert len(sweeps) == 1  # the first hit's; the library's own storage sweeps 300 times
    assert len(storage.expirations) == 30
    for key in storage.expirations:  # every window ends: the next sweep drops them all
        storage.expirations[key] = time.time() - 1
    storage.SWEEP_SECONDS = 0.0
    assert await limiter.hit(item, "late")
    await asyncio.sleep(0)
    assert len(sweeps) == 2
    assert list(storage.expirations) != [] and all("late" in key for key in storage.expirations)
