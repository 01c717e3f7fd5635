"""Argon2id password hashing (pwdlib), off the event loop."""

from __future__ import annotations

import asyncio

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from gateway.config import Settings


class Passwords:
    def __init__(self, settings: Settings) -> None:
        self._hash = PasswordHash(
            (
                Argon2Hasher(
                    time_cost=settings.argon2_time_cost, memory_cost=settings.argon2_memory_kib
                ),
            )
        )
        # Verified against when the username does not exist, so both paths cost the same.
        self._dummy = self._hash.hash("timing-equaliser")

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hash.hash, password)

    async def verify(self, password: str, hashed: str | None) -> bool:
        return await asyncio.to_thread(self._hash.verify, password, hashed or self._dummy) and (
            hashed is not None
        )
