"""Issue 13, item 10b: a compressed upstream reply is bounded on the wire and decoded in
bounded steps, so a small gzip bomb never expands past the reply cap in memory."""

from __future__ import annotations

import gzip
import json
import os
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Iterator
from functools import cache
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from tests.sessions.conftest import AltApp, World
from tests.upstream_stub import ThreadServer

REPLY = {"message": {"type": "ai", "content": "hola, comprimido"}, "interrupted": False}


@cache
def bomb() -> bytes:
    """~100 KB of gzip that inflates to 100 MB."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = b"0" * 1_000_000
    body = [packer.compress(b'{"message": {"type": "ai", "content": "')]
    body += [packer.compress(zeros) for _ in range(100)]
    return b"".join([*body, packer.flush()])


class Upstream:
    def __init__(self) -> None:
        self.mode = "ok"
        self.url = ""
        self.app = Starlette(routes=[Route("/chat", self.chat, methods=["POST"])])

    async def chat(self, request: Request) -> Response:
        headers = {"content-encoding": "gzip"}
        if self.mode == "bomb":
            return Response(bomb(), media_type="application/json", headers=headers)
        if self.mode == "wide":

            async def noise() -> AsyncIterator[bytes]:
                packer = zlib.compressobj(1, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
                for _ in range(40):  # 2.6 MB of incompressible bytes, no content-length
                    yield packer.compress(os.urandom(65_536))
                yield packer.flush()

            return StreamingResponse(noise(), media_type="application/json", headers=headers)
        if self.mode == "broken":
            return Response(b"not gzip at all", media_type="application/json", headers=headers)
        body = gzip.compress(json.dumps(REPLY).encode())
        return Response(body, media_type="application/json", headers=headers)


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    stub = Upstream()
    server = ThreadServer(stub.app).start()
    stub.url = server.url
    yield stub
    server.stop()


async def chat(
    world: World, alt_app: AltApp, upstream: Upstream, mode: str
) -> tuple[int, dict[str, Any]]:
    upstream.mode = mode
    async with alt_app(chatbot_url=upstream.url, chatbot_timeout_seconds=20) as client:
        r = await client.post(
            "/chat",
            json={"id": f"gz-{mode}", "asignatura": "INF001", "content": "hola"},
            headers=world.h(world.ana),
        )
    body: dict[str, Any] = r.json()
    return r.status_code, body


async def test_a_gzip_reply_is_decoded(world: World, alt_app: AltApp, upstream: Upstream) -> None:
    status, body = await chat(world, alt_app, upstream, "ok")
    assert status == 200, body
    assert body["response"] == "hola, comprimido"


async def test_a_gzip_bomb_is_refused_without_inflating_it(
    world: World, alt_app: AltApp, upstream: Upstream
) -> None:
    bomb()  # built before measuring
    upstream.mode = "bomb"
    async with alt_app(chatbot_url=upstream.url) as client:
        tracemalloc.start()
        try:
            r = await client.post(
                "/chat",
                json={"id": "gz-bomb", "asignatura": "INF001", "content": "hola"},
                headers=world.h(world.ana),
            )
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert r.status_code == 502
    assert r.json() == {"detail": "Chatbot service reply is too large"}
    # The cap is 1 MB: the whole exchange stays within a few MB (it was one 64 MB chunk).
    assert peak < 12 * 1024 * 1024, peak


@pytest.mark.parametrize(
    ("mode", "detail"),
    [
        ("wide", "Chatbot service reply is too large"),
        ("broken", "Chatbot service sent a body that cannot be decoded"),
    ],
)
async def test_oversized_or_undecodable_compressed_replies_are_502(
    world: World, alt_app: AltApp, upstream: Upstream, mode: str, detail: str
) -> None:
    status, body = await chat(world, alt_app, upstream, mode)
    assert (status, body) == (502, {"detail": detail})
