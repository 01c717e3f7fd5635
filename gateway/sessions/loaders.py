"""Per-request DataLoaders for sessions, messages and quiz attempts. Each batch reads the
caller (once per request, Context.actor) and hands it to sessions.service, which applies the
rule; each batch opens its own short read session, so sibling resolvers never share one.

`SessionLoaders.of(context)` builds them all for a request: the one line a typed `Loaders`
on the context needs."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from strawberry.dataloader import DataLoader

from gateway.errors import DomainError
from gateway.graphql.context import Context
from gateway.sessions import service
from gateway.sessions.schemas import MessageView, QuizAttemptView, SessionView

MessagesKey = tuple[str, int, int]  # session id, limit, after message id


async def _sessions(context: Context, ids: Sequence[str]) -> Sequence[SessionView | DomainError]:
    actor = await context.actor()
    async with context.read() as db:
        return await service.get_sessions(db, actor, ids)


async def _messages(context: Context, ids: Sequence[int]) -> Sequence[MessageView | DomainError]:
    actor = await context.actor()
    async with context.read() as db:
        return await service.get_messages(db, actor, ids)


async def _attempts(
    context: Context, ids: Sequence[int]
) -> Sequence[QuizAttemptView | DomainError]:
    actor = await context.actor()
    async with context.read() as db:
        return await service.get_quiz_attempts(db, actor, ids)


async def _session_messages(
    context: Context, keys: Sequence[MessagesKey]
) -> list[list[MessageView]]:
    """session.messages for a page of sessions: one statement per distinct window."""
    windows: defaultdict[tuple[int, int], list[str]] = defaultdict(list)
    for session_id, limit, after_id in keys:
        windows[(limit, after_id)].append(session_id)
    actor = await context.actor()
    found: dict[MessagesKey, list[MessageView]] = {}
    async with context.read() as db:
        for (limit, after_id), ids in windows.items():
            pages = await service.messages_of(db, actor, ids, limit=limit, after_id=after_id)
            for session_id, rows in pages.items():
                found[(session_id, limit, after_id)] = rows
    return [found.get(key, []) for key in keys]


@dataclass(frozen=True, slots=True)
class SessionLoaders:
    """A batch may return a DomainError for a key: that key's load raises it (the error the
    direct field would raise), the other keys get their values."""

    sessions: DataLoader[str, SessionView]
    messages: DataLoader[int, MessageView]
    quiz_attempts: DataLoader[int, QuizAttemptView]
    session_messages: DataLoader[MessagesKey, list[MessageView]]

    @classmethod
    def build(cls, context: Context) -> SessionLoaders:
        async def sessions(ids: list[str]) -> Sequence[SessionView | DomainError]:
            return await _sessions(context, ids)

        async def messages(ids: list[int]) -> Sequence[MessageView | DomainError]:
            return await _messages(context, ids)

        async def attempts(ids: list[int]) -> Sequence[QuizAttemptView | DomainError]:
            return await _attempts(context, ids)

        async def session_messages(keys: list[MessagesKey]) -> list[list[MessageView]]:
            return await _session_messages(context, keys)

        return cls(
            sessions=DataLoader(load_fn=sessions),
            messages=DataLoader(load_fn=messages),
            quiz_attempts=DataLoader(load_fn=attempts),
            session_messages=DataLoader(load_fn=session_messages),
        )

    @classmethod
    def of(cls, context: Context) -> SessionLoaders:
        """This request's loaders, built on first use (context.loaders, until the context
        carries them typed)."""
        loaders = context.loaders.get("sessions")
        if loaders is None:
            loaders = context.loaders["sessions"] = cls.build(context)
        assert isinstance(loaders, SessionLoaders)
        return loaders
