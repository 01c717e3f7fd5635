"""Settings from the environment: prefix GATEWAY_, plus CHATBOT_URL and REDIS_URL."""

from __future__ import annotations

import importlib.util
import logging
import math
import os
import secrets
from collections import Counter
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from gateway import policy

log = logging.getLogger("gateway.config")

DEFAULT_SQLITE_URL = "sqlite+aiosqlite:///./gateway.db"
PLACEHOLDERS = frozenset({"change-me", "changeme", "secret", "dev-secret-change-me-in-production"})
# A random secret of 32+ characters measures well above this (32 hex digits: 94 bits at
# the lowest in 20,000 draws); "a" * 32 measures 0 and an English phrase ~120.
MIN_SECRET_BITS = 80
MIN_SECRET_DISTINCT = 8


def _repeats_a_pattern(value: str) -> bool:
    """Whether `value` is a shorter string repeated (the last copy may be cut short), with at
    least a third of it repetition: `"word-" * 7`, `"correct-horse-battery-correct-horse"`."""
    longest = len(value) - len(value) // 3
    return any(
        all(value[i] == value[i + period] for i in range(len(value) - period))
        for period in range(1, longest + 1)
    )


def secret_weakness(secret: str | None) -> str | None:
    """Why `secret` is unfit to sign tokens in production, or None. Never quotes it."""
    if not secret:
        return "it is not set"
    if len(secret) < 32:
        return "it is shorter than 32 characters"
    if secret.lower() in PLACEHOLDERS:
        return "it is a placeholder"
    if _repeats_a_pattern(secret):
        return "it repeats a shorter pattern"
    counts = Counter(secret)
    bits = -sum(n * math.log2(n / len(secret)) for n in counts.values())
    if len(counts) < MIN_SECRET_DISTINCT or bits < MIN_SECRET_BITS:
        return "it has too little variety to be random (use: openssl rand -base64 48)"
    return None


class Settings(BaseSettings):
    # hide_input_in_errors: a refusal must never echo the secret or a URL's credentials.
    model_config = SettingsConfigDict(
        env_prefix="GATEWAY_", env_file=".env", extra="ignore", hide_input_in_errors=True
    )

    env: Literal["development", "production", "test"] = "development"
    database_url: str = DEFAULT_SQLITE_URL
    # A fixed pool: overflow connections are opened and closed under load, which cost ~20 % CPU
    # per request in the benchmark; requests beyond the pool wait (pool timeout 5 s, then 503).
    db_pool_size: int = Field(default=20, ge=1)
    db_max_overflow: int = Field(default=0, ge=0)
    # How many of those connections the chat flow may hold at once; the rest stay for others.
    chat_db_slots: int = Field(default=10, ge=1)
    # Waiting for a pooled connection (first come, first served), then 503.
    db_pool_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    # A pooled connection idle longer than this is tested with one `;` before use (finds ones
    # dropped by a restart or a firewall); busier ones skip the round trip. 0: test every time.
    db_ping_after_idle_seconds: float = Field(default=1.0, ge=0)
    db_statement_timeout_ms: int = Field(default=15_000, ge=0)
    auto_migrate: bool | None = None  # None: only on the embedded SQLite default

    # Python's cyclic GC runs a young-generation pass every 700 allocations by default; with
    # the app's long-lived objects that became p99 pauses under load. 0 keeps Python's default.
    gc_gen0_threshold: int = Field(default=10_000, ge=0)

    jwt_secret: str | None = None
    jwt_secret_file: str = ".gateway-secret"
    jwt_algorithm: Literal["HS256", "HS384", "HS512"] = "HS256"
    access_token_minutes: int = Field(default=60, ge=1, le=60 * 24 * 30)
    # Argon2id cost; the defaults are pwdlib's recommended ones. Tests lower them for speed.
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=65536, ge=8)

    chatbot_url: str = Field(
        default="http://localhost:8080",
        validation_alias=AliasChoices("GATEWAY_CHATBOT_URL", "CHATBOT_URL"),
    )
    chatbot_timeout_seconds: float = Field(default=120.0, gt=0)
    chatbot_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    chatbot_max_connections: int = Field(default=500, ge=1)
    chatbot_max_keepalive: int = Field(default=50, ge=0)
    # Shorter than the upstream's idle timeout (uvicorn closes idle connections after 5 s):
    # a call sent on a connection the server is closing at that moment is lost (a 502).
    chatbot_keepalive_expiry_seconds: float = Field(default=4.0, gt=0)
    chatbot_max_response_bytes: int = Field(default=1_000_000, ge=1024)
    # How often user messages left "sent" by a crash or an outage (older than the chatbot
    # timeout + 5 min) are marked failed; also once at start-up.
    stranded_sweep_seconds: float = Field(default=300.0, gt=0)

    redis_url: str | None = Field(
        default=None, validation_alias=AliasChoices("GATEWAY_REDIS_URL", "REDIS_URL")
    )
    # Chat fan-out through Redis: each call gives up after this long (connect and reply), with
    # no retry; the chat then delivers in this process only and goes on (never a 500).
    redis_timeout_seconds: float = Field(default=0.5, gt=0, le=10)
    cors_origins: list[str] = ["http://localhost:5173", "http://localhost:3000"]
    log_level: str = "INFO"
    log_json: bool = False
    # OpenTelemetry tracing (docs/observability.md). Exporter, service name and sampler come
    # from the standard OTEL_* variables. Resolvers faster than the threshold get no span.
    otel_enabled: bool = False
    otel_resolver_threshold_ms: float = Field(default=10.0, ge=0)

    active_days: int = Field(default=7, ge=1, description="'active' student window for analytics")
    graphql_max_depth: int = Field(default=10, ge=2)
    graphql_max_aliases: int = Field(default=30, ge=1)
    graphql_max_tokens: int = Field(default=5000, ge=100)
    # Field selections per document (fragments expanded) and repetitions of one response key
    # in one selection set: both bound graphql-core's validation, whose overlapping-fields rule
    # compares same-named fields pairwise (docs/security-limits.md). GraphiQL's introspection
    # query has ~230 fields.
    graphql_max_fields: int = Field(default=250, ge=10)
    graphql_max_field_repeats: int = Field(default=20, ge=2)
    graphql_max_cost: int = Field(default=10_000, ge=1, description="static cost limit per query")
    graphql_max_json_depth: int = Field(default=20, ge=2, description="nesting of a JSON body")
    graphql_apq: bool = True  # automatic persisted queries (Apollo protocol)
    graphql_apq_cache_size: int = Field(default=1000, ge=1)
    # One registered document at most (64 KiB: the 5,000-token limit at ~12 bytes a token,
    # indentation included), all of them in one process at most 16 MiB, in Redis at most
    # `graphql_apq_redis_max_entries` of them (x 64 KiB = 128 MiB at worst), each for at most
    # a week. See docs/security-limits.md.
    graphql_apq_max_query_bytes: int = Field(default=65_536, ge=1024)
    graphql_apq_cache_bytes: int = Field(default=16 * 1024 * 1024, ge=65_536)
    graphql_apq_redis_max_entries: int = Field(default=2000, ge=1)
    graphql_apq_key_prefix: str = "gateway:apq:"
    graphql_apq_ttl_seconds: int = Field(
        default=86_400, ge=1, le=7 * 86_400, description="Redis entry lifetime"
    )
    graphql_ide: bool | None = None  # None: on except in production
    # Where `gateway fetch-graphiql-assets` puts GraphiQL's files (None: gateway/static/graphiql).
    graphiql_assets_dir: Path | None = None
    graphql_introspection: bool | None = None  # None: on except in production
    max_page_size: int = Field(
        default=policy.DEFAULT_MAX_PAGE_SIZE, ge=1, le=policy.PAGE_SIZE_CEILING
    )
    # GraphQL over WebSocket (gateway/graphql/ws.py)
    graphql_ws_legacy: bool | None = None  # the older graphql-ws subprotocol; None: off in prod
    ws_max_sockets_per_user: int = Field(default=10, ge=1)
    ws_max_operations_per_socket: int = Field(default=20, ge=1)
    # An open socket re-reads its caller this often: a deleted account's socket is closed.
    ws_recheck_seconds: float = Field(default=30.0, gt=0, le=3600)

    # Operations (gateway/ratelimit.py, gateway/observability/, gateway/app.py)
    rate_limit_enabled: bool = True
    rate_limit_auth: str = "5/minute"  # per client IP: /token, /register, login, register
    rate_limit_chat: str = "10/minute"  # per user: sending chat messages
    rate_limit_default: str = "60/minute"  # per user, or per IP when anonymous
    rate_limit_key_prefix: str = "gateway-rl"
    trusted_proxies: list[str] = []  # IPs/CIDRs whose X-Forwarded-For is believed
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    shutdown_grace_seconds: int = Field(default=30, ge=0)

    @field_validator("rate_limit_auth", "rate_limit_chat", "rate_limit_default")
    @classmethod
    def _rate(cls, value: str) -> str:
        from limits import parse_many

        try:
            parse_many(value)
        except ValueError as exc:
            raise ValueError(f"not a rate limit like '60/minute': {value!r}") from exc
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        import ipaddress

        for item in value:
            ipaddress.ip_network(item, strict=False)  # ValueError -> refused at start-up
        return value

    @model_validator(mode="after")
    def _chat_leaves_room(self) -> Settings:
        if self.chat_db_slots >= self.db_pool_size + self.db_max_overflow:
            raise ValueError(
                "GATEWAY_CHAT_DB_SLOTS must be smaller than the pool "
                "(GATEWAY_DB_POOL_SIZE + GATEWAY_DB_MAX_OVERFLOW), or chats could starve others"
            )
        return self

    @model_validator(mode="after")
    def _tracing_installed(self) -> Settings:
        if self.otel_enabled and importlib.util.find_spec("opentelemetry.sdk") is None:
            raise ValueError(
                "GATEWAY_OTEL_ENABLED needs the tracing packages: pip install 'study-gateway[otel]'"
            )
        return self

    @model_validator(mode="after")
    def _refuse_weak_production(self) -> Settings:
        if self.env != "production":
            return self
        weakness = secret_weakness(self.jwt_secret)
        if weakness is not None:
            raise ValueError(
                f"GATEWAY_ENV=production refuses GATEWAY_JWT_SECRET: {weakness}. It needs 32+ "
                "random characters, not a placeholder or a repeated pattern"
            )
        return self

    @cached_property
    def signing_secret(self) -> str:
        """The explicit secret, else (outside production) one generated once and kept in
        `jwt_secret_file`, so restarts and several workers on this host agree on it."""
        if self.jwt_secret:
            return self.jwt_secret
        path = Path(self.jwt_secret_file)
        if not path.exists():
            # Write aside, then link into place: atomic, so workers starting together agree.
            tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            tmp.touch(mode=0o600)
            tmp.write_text(secrets.token_urlsafe(48))
            try:
                os.link(tmp, path)
                log.warning(
                    "GATEWAY_JWT_SECRET is not set: generated a development secret in %s "
                    "(set GATEWAY_JWT_SECRET in production)",
                    path,
                )
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
        secret = path.read_text().strip()
        if len(secret) < 32:
            raise ValueError(f"{path} holds no usable secret: delete it or set GATEWAY_JWT_SECRET")
        log.warning("GATEWAY_JWT_SECRET is not set: signing tokens with the secret in %s", path)
        return secret

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def should_auto_migrate(self) -> bool:
        if self.auto_migrate is not None:
            return self.auto_migrate
        return self.database_url == DEFAULT_SQLITE_URL
