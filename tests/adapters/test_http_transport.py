"""The upstream client's sharded pool honours the configured limits."""

from __future__ import annotations

import asyncio

import httpx

from gateway.adapters.http_transport import SHARD_SIZE, ShardedTransport


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
