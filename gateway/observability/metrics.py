"""Prometheus metrics. With several worker processes set PROMETHEUS_MULTIPROC_DIR (an empty,
writable directory) before start: each process then writes its samples there and /metrics
aggregates them (prometheus-client multiprocess mode)."""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import Response

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)

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


def registry() -> CollectorRegistry:
    if multiprocess_dir():
        collected = CollectorRegistry()
        multiprocess.MultiProcessCollector(collected)
        return collected
    return REGISTRY


async def metrics_endpoint(_: Request) -> Response:
    return Response(generate_latest(registry()), media_type=CONTENT_TYPE_LATEST)
