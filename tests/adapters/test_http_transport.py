"""The upstream client's sharded pool honours the configured limits and drops idle connections
before the upstream does."""

from __future__ import annotations

import asyncio

import httpx

from gateway.adapters.http_transport import SHARD_SIZE, ShardedTransport
from gateway.adapters.tutor_client import build_http_client
from tests.conftest import make_settings


def test_shards_add_up_to_the_configured_limits() -> None:
    transport = ShardedTransport(httpx.Limits(max_connections=500, max_keepalive_connections=50))
    assert sum(lim.max_connections or 0 for lim in transport.limits) == 500
    assert sum(lim.max_keepalive_connections or 0 for lim in transport.limits) == 50
    assert all(0 < (lim.max_connections or 0) <= SHARD_SIZE for lim in transport.limits)
    single = ShardedTransport(httpx.Limits(max_connections=3, max_keepalive_connections=3))
    assert [lim.max_connections for lim in single.limits] == [3]


async def test_never_more_connections_than_the_limit() -> None:
    """40 concurrent calls through a 20-connection sharded client: all answered, and the
    server never sees more than 20 connections at once."""
    open_now = peak = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal open_now, peak
        open_now += 1
        peak = max(peak, open_now)
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                await asyncio.sleep(0.05)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            open_now -= 1
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    limits = httpx.Limits(max_connections=20, max_keepalive_connections=20)
    async with server, httpx.AsyncClient(transport=ShardedTransport(limits)) as client:
        replies = await asyncio.gather(
            *(client.get(f"http://127.0.0.1:{port}/") for _ in range(40))
        )
    assert [r.text for r in replies] == ["ok"] * 40
    assert 1 < peak <= 20


async def test_an_idle_connection_is_dropped_before_the_upstream_closes_it() -> None:
    """An upstream that closes connections idle for 0.5 s (uvicorn does after 5 s). A call sent
    on such a connection as the server closes it gets no answer; here the server closes
    whenever a request comes after 0.5 s idle, so that race happens every time. The gateway's
    client (GATEWAY_CHATBOT_KEEPALIVE_EXPIRY_SECONDS, shorter than the upstream's timeout)
    drops the idle connection first and opens a new one; a client keeping it 5 s reuses it."""
    loop = asyncio.get_running_loop()
    connections = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        idle_since = loop.time()
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                if loop.time() - idle_since > 0.5:
                    break  # its idle timer fired as the request arrived: closed, unanswered
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
                idle_since = loop.time()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
    async with server:
        one_shard = {"chatbot_max_connections": 4, "chatbot_max_keepalive": 4}
        settings = make_settings("sqlite", chatbot_keepalive_expiry_seconds=0.3, **one_shard)
        async with build_http_client(settings) as client:
            assert (await client.get(url)).text == "ok"
            await asyncio.sleep(0.6)
            assert (await client.get(url)).text == "ok"
        assert connections == 2
        lingering = make_settings("sqlite", chatbot_keepalive_expiry_seconds=5.0, **one_shard)
        async with build_http_client(lingering) as client:
            assert (await client.get(url)).text == "ok"
            await asyncio.sleep(0.6)
            try:
                await client.get(url)
            except httpx.TransportError:
                pass
            else:
                raise AssertionError("the connection the server closed was not reused")
