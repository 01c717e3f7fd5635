"""Per-request DataLoaders for sessions, messages and quiz attempts. Each batch reads the
caller (once per request) and hands it to sessions.service, which applies the rule; each batch
opens its own short read session, so sibling resolvers never share one."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from functools import cached_property

from strawberry.dataloader import DataLoader

from gateway.auth.actor import ActorSource
from gateway.db import Database
from gateway.errors import DomainError
from gateway.sessions import service
from gateway.sessions.schemas import MessageView, QuizAttemptView, SessionView

MessagesKey = tuple[str, int, int]  # session id, limit, after message id


class SessionLoaders:
    """Created on first use in a request. A batch may return a DomainError for a key: that
    key's load raises it (the error the direct field would raise), the other keys get theirs."""

    def __init__(self, db: Database, actor: ActorSource) -> None:
        self._db = db
        self._actor = actor

    @cached_property
    def sessions(self) -> DataLoader[str, SessionView]:
        return DataLoader(load_fn=self._sessions)

    @cached_property
    def messages(self) -> DataLoader[int, MessageView]:
        return DataLoader(load_fn=self._messages)

    @cached_property
    def quiz_attempts(self) -> DataLoader[int, QuizAttemptView]:
        return DataLoader(load_fn=self._attempts)

    @cached_property
    def session_messages(self) -> DataLoader[MessagesKey, list[MessageView]]:
        return DataLoader(load_fn=self._session_messages)

    async def _sessions(self, ids: list[str]) -> Sequence[SessionView | DomainError]:
        actor = await self._actor()
        async with self._db.read() as db:
            return await service.get_sessions(db, actor, ids)

    async def _messages(self, ids: list[int]) -> Sequence[MessageView | DomainError]:
        actor = await self._actor()
        async with self._db.read() as db:
            return await service.get_messages(db, actor, ids)

    async def _attempts(self, ids: list[int]) -> Sequence[QuizAttemptView | DomainError]:
        actor = await self._actor()
        async with self._db.read() as db:
            return await service.get_quiz_attempts(db, actor, ids)

    async def _session_messages(self, keys: list[MessagesKey]) -> list[list[MessageView]]:
        """session.messages for a page of sessions: one statement per distinct window."""
        windows: defaultdict[tuple[int, int], list[str]] = defaultdict(list)
        for session_id, limit, after_id in keys:
            windows[(limit, after_id)].append(session_id)
        actor = await self._actor()
        found: dict[MessagesKey, list[MessageView]] = {}
        async with self._db.read() as db:
            for (limit, after_id), ids in windows.items():
                pages = await service.messages_of(db, actor, ids, limit=limit, after_id=after_id)
                for session_id, rows in pages.items():
                    found[(session_id, limit, after_id)] = rows
        return [found.get(key, []) for key in keys]
