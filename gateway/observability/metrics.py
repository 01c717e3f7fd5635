"""Prometheus metrics. With several worker processes set PROMETHEUS_MULTIPROC_DIR (an empty,
writable directory) before start: each process then writes its samples there and /metrics
aggregates them (prometheus-client multiprocess mode).

No web framework here: the database layer instruments its pool with this module. The /metrics
endpoint is gateway/observability/metrics_endpoint.py."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import Any, TypeVar, cast

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    multiprocess,
)
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

# Most requests finish within a few milliseconds: the first buckets must resolve them.
LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    30,
    60,
    120,
)

HTTP_REQUESTS = Counter(
    "gateway_http_requests_total",
    "HTTP requests by method, route template and status code.",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "gateway_http_request_duration_seconds",
    "HTTP request latency by method and route template.",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)
HTTP_IN_PROGRESS = Gauge(
    "gateway_http_requests_in_progress",
    "HTTP requests being served right now.",
    multiprocess_mode="livesum",
)
GRAPHQL_OPERATIONS = Counter(
    "gateway_graphql_operations_total",
    "GraphQL operations by operation name, type and outcome (ok or the first error code).",
    ["operation", "type", "outcome"],
)
GRAPHQL_LATENCY = Histogram(
    "gateway_graphql_operation_duration_seconds",
    "GraphQL operation duration by operation name and type.",
    ["operation", "type"],
    buckets=LATENCY_BUCKETS,
)
GRAPHQL_ERRORS = Counter(
    "gateway_graphql_errors_total",
    "Errors in GraphQL responses (sent with HTTP 200) by extensions.code.",
    ["code"],
)
UPSTREAM_CALLS = Counter(
    "gateway_upstream_requests_total",
    "Calls to the chatbot upstream by outcome (ok, timeout, unavailable, bad_response).",
    ["outcome"],
)
UPSTREAM_LATENCY = Histogram(
    "gateway_upstream_request_duration_seconds",
    "Chatbot upstream latency by outcome.",
    ["outcome"],
    buckets=LATENCY_BUCKETS,
)
DB_POOL_IN_USE = Gauge(
    "gateway_db_pool_connections_in_use",
    "Database connections checked out of the pool right now.",
    multiprocess_mode="livesum",
)
DB_WAITING = Gauge(
    "gateway_db_waiting_requests",
    "Requests waiting (first come, first served) for a database connection right now.",
    multiprocess_mode="livesum",
)
BROKER_FAILURES = Counter(
    "gateway_broker_failures_total",
    "Redis fan-out calls that failed or were skipped while Redis was failing; the event was "
    "delivered to this process's subscribers only.",
    ["operation"],
)
RATE_LIMITED = Counter(
    "gateway_rate_limited_total",
    "Requests refused by a rate limit, by limit category.",
    ["category"],
)


UPSTREAM_OUTCOMES = ("ok", "timeout", "unavailable", "bad_response")
RATE_LIMIT_CATEGORIES = ("auth", "chat", "default")
# Created for every known route at start; other codes appear when first seen.
PRECREATED_STATUSES = ("200", "401", "429", "500", "503")
# Codes outside the gateway's own list are counted as "other" (bounded label values).
GRAPHQL_ERROR_CODES = frozenset(
    {
        "BAD_REQUEST",
        "BAD_USER_INPUT",
        "UNAUTHENTICATED",
        "FORBIDDEN",
        "NOT_FOUND",
        "CONFLICT",
        "ALREADY_ENROLLED",
        "PAYLOAD_TOO_LARGE",
        "RATE_LIMITED",
        "UPSTREAM_BAD_RESPONSE",
        "UPSTREAM_UNAVAILABLE",
        "SERVICE_UNAVAILABLE",
        "UPSTREAM_TIMEOUT",
        "GRAPHQL_PARSE_FAILED",
        "GRAPHQL_VALIDATION_FAILED",
        "INTERNAL_SERVER_ERROR",
        "QUERY_TOO_DEEP",
        "QUERY_TOO_COMPLEX",
        "TOO_MANY_ALIASES",
        "TOO_MANY_TOKENS",
        "PERSISTED_QUERY_NOT_FOUND",
        "PERSISTED_QUERY_NOT_SUPPORTED",
    }
)


def precreate(routes: Iterable[tuple[str, str]]) -> None:
    """Create the known label sets at start, at zero. A series that first appears with a
    value N loses those N in Prometheus' rate()/increase() (they need a previous sample), so
    the first burst of rate-limited requests or of a route's errors would show as nothing."""
    for category in RATE_LIMIT_CATEGORIES:
        RATE_LIMITED.labels(category)
    for outcome in UPSTREAM_OUTCOMES:
        UPSTREAM_CALLS.labels(outcome)
        UPSTREAM_LATENCY.labels(outcome)
    for code in (*GRAPHQL_ERROR_CODES, "other"):
        GRAPHQL_ERRORS.labels(code)
    for method, route in routes:
        HTTP_LATENCY.labels(method, route)
        for status in PRECREATED_STATUSES:
            HTTP_REQUESTS.labels(method, route, status)


_children: dict[tuple[object, ...], Any] = {}
Labelled = TypeVar("Labelled", Counter, Gauge, Histogram)


def child(metric: Labelled, *values: str) -> Labelled:
    """`metric.labels(*values)`, remembered: prometheus-client checks the label count, converts
    every value and takes a lock on each call (a few µs on every request, per metric). Label
    values here are bounded sets (route templates, methods, statuses, operation labels)."""
    key = (metric, *values)
    found = _children.get(key)
    if found is None:
        found = _children[key] = metric.labels(*values)
    return cast(Labelled, found)


def count_graphql_error(code: object) -> None:
    GRAPHQL_ERRORS.labels(code if code in GRAPHQL_ERROR_CODES else "other").inc()


def observe_upstream(outcome: str, seconds: float) -> None:
    """Called by the chat flow after each upstream call."""
    UPSTREAM_CALLS.labels(outcome).inc()
    UPSTREAM_LATENCY.labels(outcome).observe(seconds)


def instrument_pool(engine: AsyncEngine) -> None:
    """Keep DB_POOL_IN_USE in step with the engine's pool checkouts."""
    pool = engine.sync_engine.pool

    def checkout(*_: Any) -> None:
        DB_POOL_IN_USE.inc()

    def checkin(*_: Any) -> None:
        DB_POOL_IN_USE.dec()

    event.listen(pool, "checkout", checkout)
    event.listen(pool, "checkin", checkin)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def mark_process_dead() -> None:
    """Drop this process's live gauges (multiprocess mode) when it shuts down."""
    if multiprocess_dir():
        multiprocess.mark_process_dead(os.getpid())


_LIVE_FILE = re.compile(r"^gauge_live\w+_(\d+)\.db$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def forget_dead_processes(directory: str) -> None:
    """A worker killed outright (SIGKILL, OOM) never runs its shutdown: its live gauges (in
    progress, pool in use, waiting) would stay in the sum for good. Scrapes drop them.
    The directory is per host (per pod), so the pids are this host's."""
    pids = {int(m[1]) for name in os.listdir(directory) if (m := _LIVE_FILE.match(name))}
    for pid in pids:
        if not _alive(pid):
            try:
                multiprocess.mark_process_dead(pid, directory)
            except FileNotFoundError:
                pass  # another worker's scrape removed it first


def registry() -> CollectorRegistry:
    directory = multiprocess_dir()
    if directory:
        forget_dead_processes(directory)
        collected = CollectorRegistry()
        multiprocess.MultiProcessCollector(collected)
        return collected
    return REGISTRY
