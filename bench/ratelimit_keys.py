"""CPU per rate-limit hit in one process (no REDIS_URL) as the number of live keys grows:
limits' own MemoryStorage against gateway.ratelimit.SweptMemoryStorage.

    python -m bench.ratelimit_keys

Each key is one caller's window in one category (a caller holds two per category: the
current and the previous minute). The hits are timed with a pass of the event loop after
each, as between requests, so that a sweep the storage started runs and is counted.
"""

from __future__ import annotations

import asyncio
import time

from limits import parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter

from gateway.ratelimit import SweptMemoryStorage

HITS = 2000
KEYS = (0, 1_000, 10_000, 50_000)


async def per_hit(storage: MemoryStorage, keys: int) -> float:
    limiter = SlidingWindowCounterRateLimiter(storage)
    item = parse("1000000/minute")
    for n in range(keys):
        await limiter.hit(item, f"caller{n}")
    await asyncio.sleep(0.05)
    started = time.process_time()
    for _ in range(HITS):
        await limiter.hit(item, "me")
        await asyncio.sleep(0)
    return (time.process_time() - started) / HITS * 1e6


async def main() -> None:
    print("| live keys | limits' MemoryStorage µs/hit | SweptMemoryStorage µs/hit |")
    print("|---:|---:|---:|")
    for keys in KEYS:
        theirs = await per_hit(MemoryStorage(), keys)
        ours = await per_hit(SweptMemoryStorage(), keys)
        print(f"| {keys:,} | {theirs:,.1f} | {ours:,.1f} |", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
