"""The upstream tutor's HTTP client: the wire contract of docs/chatbot-upstream.md.

One shared httpx.AsyncClient (owned by the Gateway) carries every call. Every failure becomes
one of three domain errors; the upstream's own body never reaches our clients."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httpx
import orjson
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr
from pydantic import ValidationError as ShapeError

from gateway.adapters.http_transport import ShardedTransport
from gateway.config import Settings
from gateway.errors import DomainError, UpstreamBadResponse, UpstreamTimeout, UpstreamUnavailable
from gateway.observability import metrics
from gateway.sessions.schemas import SystemInfo

log = logging.getLogger("gateway.chatbot")
UNAVAILABLE = "Chatbot service unavailable"


class UpstreamMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: StrictStr = "ai"
    content: StrictStr


class InterruptInfo(BaseModel):
    model_config = ConfigDict(extra="allow")

    action: StrictStr = "answer_question"
    question_num: StrictInt
    total_questions: StrictInt | None = None
    question_text: StrictStr


class UpstreamReply(BaseModel):
    model_config = ConfigDict(extra="ignore")

    # Both keys are part of every reply of the contract (message may be null).
    message: UpstreamMessage | None
    interrupted: StrictBool
    interrupt_info: InterruptInfo | None = None
    score: dict[str, Any] | None = None

    def check(self) -> UpstreamReply:
        if self.interrupted and self.interrupt_info is None:
            raise UpstreamBadResponse("Chatbot service sent a question without interrupt_info")
        return self


class _SystemInfoBody(BaseModel):
    version: StrictStr = Field(max_length=100)
    llm_provider: StrictStr = Field(max_length=100)
    llm_model: StrictStr = Field(max_length=200)
    status: StrictStr = Field(max_length=50)


FALLBACK_INFO = SystemInfo(
    version="unknown", llm_provider="Unknown", llm_model="Unknown", status="unavailable"
)


def build_http_client(settings: Settings) -> httpx.AsyncClient:
    """The process's one client for the upstream (its pool split in small shards, see
    transport.py). Waiting for a pooled connection counts against the same budget as the
    call itself."""
    limits = httpx.Limits(
        max_connections=settings.chatbot_max_connections,
        max_keepalive_connections=settings.chatbot_max_keepalive,
        keepalive_expiry=settings.chatbot_keepalive_expiry_seconds,
    )
    client = httpx.AsyncClient(
        transport=ShardedTransport(limits),
        timeout=httpx.Timeout(
            settings.chatbot_timeout_seconds,
            connect=settings.chatbot_connect_timeout_seconds,
            pool=settings.chatbot_timeout_seconds,
        ),
        follow_redirects=False,
        trust_env=False,
    )
    return client


class Chatbot:
    def __init__(self, http: httpx.AsyncClient, settings: Settings) -> None:
        self._http = http
        self._base = settings.chatbot_url.rstrip("/")
        self._timeout = settings.chatbot_timeout_seconds
        self._max_bytes = settings.chatbot_max_response_bytes

    async def chat(self, *, query: str, session_id: str, subject: str, user: str) -> UpstreamReply:
        body = {"query": query, "id": session_id, "asignatura": subject, "user_id": user}
        return await self._exchange("/chat", body)

    async def resume(self, *, session_id: str, answer: str) -> UpstreamReply:
        return await self._exchange("/resume_chat", {"id": session_id, "user_response": answer})

    async def system_info(self) -> SystemInfo:
        """The upstream's own description, or the documented fallback when it cannot say."""
        try:
            raw = await self._call("GET", "/system/info", None, min(self._timeout, 10.0))
            info = _SystemInfoBody.model_validate(orjson.loads(raw))
        except (UpstreamBadResponse, UpstreamTimeout, UpstreamUnavailable, ShapeError) as exc:
            log.info("system info unavailable: %s", exc)
            return FALLBACK_INFO
        except orjson.JSONDecodeError:
            return FALLBACK_INFO
        return SystemInfo.model_validate(info.model_dump())

    async def _exchange(self, path: str, body: dict[str, Any]) -> UpstreamReply:
        raw = await self._call("POST", path, body, self._timeout)
        try:
            return UpstreamReply.model_validate(orjson.loads(raw)).check()
        except orjson.JSONDecodeError as exc:
            raise UpstreamBadResponse("Chatbot service sent a body that is not JSON") from exc
        except ShapeError as exc:
            raise UpstreamBadResponse(
                "Chatbot service sent a reply of an unexpected shape"
            ) from exc

    async def _call(
        self, method: str, path: str, body: dict[str, Any] | None, limit_s: float
    ) -> bytes:
        started = time.perf_counter()
        outcome = "ok"
        try:
            return await self._call_unmeasured(method, path, body, limit_s)
        except DomainError as exc:
            outcome = exc.code.removeprefix("UPSTREAM_").lower()
            raise
        finally:
            metrics.observe_upstream(outcome, time.perf_counter() - started)

    async def _call_unmeasured(
        self, method: str, path: str, body: dict[str, Any] | None, limit_s: float
    ) -> bytes:
        try:
            async with asyncio.timeout(limit_s):  # the whole exchange, not each read
                return await self._read(method, path, body)
        except TimeoutError as exc:
            raise UpstreamTimeout(f"Chatbot service did not answer within {limit_s:g} s") from exc
        except httpx.ReadTimeout as exc:
            raise UpstreamTimeout(f"Chatbot service did not answer within {limit_s:g} s") from exc
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise UpstreamUnavailable(f"{UNAVAILABLE}: cannot connect") from exc
        except httpx.PoolTimeout as exc:
            raise UpstreamUnavailable(f"{UNAVAILABLE}: too many requests in flight") from exc
        except httpx.TransportError as exc:
            raise UpstreamBadResponse(
                f"Chatbot service broke the connection ({type(exc).__name__})"
            ) from exc

    async def _read(self, method: str, path: str, body: dict[str, Any] | None) -> bytes:
        """The reply body, at most `max_bytes` on the wire and at most `max_bytes` decoded:
        compressed replies are inflated here in bounded steps (zlib's max_length), so a small
        gzip bomb never expands past the cap in memory (httpx inflates a whole chunk at once)."""
        import zlib

        limit = self._max_bytes
        headers = {"Accept-Encoding": "gzip, deflate"}
        too_large = "Chatbot service reply is too large"
        async with self._http.stream(
            method, self._base + path, json=body, headers=headers
        ) as response:
            if not 200 <= response.status_code < 300:
                raise UpstreamBadResponse(f"Chatbot service answered HTTP {response.status_code}")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise UpstreamBadResponse(too_large)
            encoding = response.headers.get("content-encoding", "identity").strip().lower()
            wbits = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS}.get(encoding)
            wbits = zlib.MAX_WBITS if encoding == "deflate" else wbits
            if wbits is None and encoding not in ("", "identity"):
                raise UpstreamBadResponse("Chatbot service reply has an unsupported encoding")
            inflater = zlib.decompressobj(wbits) if wbits is not None else None
            data = bytearray()
            received = 0
            try:
                async for chunk in response.aiter_raw():
                    received += len(chunk)
                    if received > limit:
                        raise UpstreamBadResponse(too_large)
                    if inflater is None:
                        data += chunk
                        continue
                    while chunk:
                        data += inflater.decompress(chunk, limit + 1 - len(data))
                        if len(data) > limit:
                            raise UpstreamBadResponse(too_large)
                        chunk = inflater.unconsumed_tail
                if inflater is not None:
                    data += inflater.flush(limit + 1 - len(data))
            except zlib.error as exc:
                raise UpstreamBadResponse(
                    "Chatbot service sent a body that cannot be decoded"
                ) from exc
            if len(data) > limit:
                raise UpstreamBadResponse(too_large)
            return bytes(data)
