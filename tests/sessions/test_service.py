"""The sessions rules, called directly (no HTTP) against the real database and the tutor stub:
ownership, the per-caller scoping of loader paths, the quiz claim, validation, and the
per-event re-check of a message stream."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import delete, func, select

from gateway.adapters.broker import MemoryBroker
from gateway.auth.actor import Actor
from gateway.auth.tokens import TokenClaims
from gateway.db import utcnow
from gateway.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthenticated,
)
from gateway.runtime import Gateway
from gateway.sessions import chat, service
from gateway.sessions.models import ChatSession, Message, QuizAttempt
from gateway.sessions.schemas import (
    TITLE_CHARS,
    ChatInput,
    ChatResult,
    MessageView,
    RenameInput,
    ResumeInput,
)
from gateway.subjects.models import Enrollment, Subject
from gateway.users.models import Role, User
from tests.upstream_stub import Stub


@dataclass
class People:
    ana: Actor  # student enrolled in INF001
    bob: Actor  # student enrolled in INF001
    admin: Actor

    @staticmethod
    def claims(actor: Actor, expires_in: int = 3600) -> TokenClaims:
        return TokenClaims(
            username=actor.username, user_id=actor.id, expires_at=int(time.time()) + expires_in
        )


@pytest.fixture
async def people(gateway: Gateway, stub: Stub) -> People:
    actors = {
        name: Actor(id=uuid.uuid4(), username=name, role=role)
        for name, role in (("ana", Role.STUDENT), ("bob", Role.STUDENT), ("root", Role.ADMIN))
    }
    async with gateway.db.transaction() as db:
        db.add_all(
            User(
                id=a.id,
                username=a.username,
                email=f"{a.username}@example.com",
                hashed_password="-",
                role=a.role.value,
            )
            for a in actors.values()
        )
        db.add(Subject(id="INF001", name="Algorithms", professor_id=None))
        await db.flush()
        db.add_all(Enrollment(student_id=actors[n].id, subject_id="INF001") for n in ("ana", "bob"))
    return People(ana=actors["ana"], bob=actors["bob"], admin=actors["root"])


async def send(gateway: Gateway, actor: Actor, session_id: str, text: str) -> ChatResult:
    data = ChatInput.model_validate({"id": session_id, "asignatura": "INF001", "content": text})
    return await chat.send_message(
        gateway.chat_db, gateway.chatbot, gateway.broker, People.claims(actor), data
    )


async def answer(
    gateway: Gateway, actor: Actor, session_id: str, text: str, index: int
) -> ChatResult:
    data = ResumeInput(answer=text, current_question_index=index)
    return await chat.answer_question(
        gateway.chat_db, gateway.chatbot, gateway.broker, People.claims(actor), session_id, data
    )


async def test_only_the_owner_reads_renames_and_deletes_a_session(
    gateway: Gateway, people: People
) -> None:
    await send(gateway, people.ana, "s-ana", "hola")
    async with gateway.db.transaction() as db:
        for other in (people.bob, people.admin):  # admins are no exception
            with pytest.raises(Forbidden):
                await service.get_session(db, other, "s-ana")
            with pytest.raises(Forbidden):
                await service.rename_session(db, other, "s-ana", RenameInput(title="mine"))
            with pytest.raises(Forbidden):
                await service.delete_session(db, other, "s-ana")
        with pytest.raises(NotFound):
            await service.get_session(db, people.ana, "s-nobody")
        view = await service.rename_session(db, people.ana, "s-ana", RenameInput(title="Mía"))
        assert (view.title, view.message_count, view.username) == ("Mía", 2, "ana")
    async with gateway.db.read() as db:
        assert (await service.get_session(db, people.ana, "s-ana")).title == "Mía"
        found = await service.get_sessions(db, people.bob, ["s-ana", "s-nobody", "no spaces"])
        assert [type(f) for f in found] == [Forbidden, NotFound, InvalidInput]
        assert await service.list_sessions(db, people.bob, subject=None, limit=10) == []


async def test_a_stranger_cannot_chat_in_someone_elses_session(
    gateway: Gateway, people: People
) -> None:
    await send(gateway, people.ana, "s-ana", "hola")
    with pytest.raises(Forbidden):
        await send(gateway, people.bob, "s-ana", "intruso")
    async with gateway.db.read() as db:
        contents = await db.scalars(select(Message.content).where(Message.session_id == "s-ana"))
        assert "intruso" not in list(contents)


async def test_the_messages_batch_only_pages_the_callers_own_sessions(
    gateway: Gateway, people: People
) -> None:
    """The loader path (session.messages) applies the ownership rule itself: a batch asked
    for someone else's session returns nothing for it."""
    await send(gateway, people.ana, "s-ana", "hola")
    await send(gateway, people.bob, "s-bob", "buenas")
    async with gateway.db.read() as db:
        pages = await service.messages_of(db, people.bob, ["s-ana", "s-bob"], limit=10)
        assert pages["s-ana"] == []
        assert pages["s-bob"][0].content == "buenas"
        mine = await service.messages_of(db, people.ana, ["s-ana"], limit=1, skip=1)
        assert [m.role for m in mine["s-ana"]] == ["assistant"]
        messages = await service.get_messages(db, people.bob, [mine["s-ana"][0].id, 10**9])
        assert [type(m) for m in messages] == [Forbidden, NotFound]


async def test_a_quiz_question_is_claimed_and_scored_once(gateway: Gateway, people: People) -> None:
    started = await send(gateway, people.ana, "quiz", "Hazme un test de algoritmos")
    assert started.interrupted and started.interrupt_info is not None
    assert started.interrupt_info["question_num"] == 1
    await answer(gateway, people.ana, "quiz", "O(n log n)", 1)
    await answer(gateway, people.ana, "quiz", "una cola", 2)
    outcomes = await asyncio.gather(
        answer(gateway, people.ana, "quiz", "8 bits", 3),
        answer(gateway, people.ana, "quiz", "8 bits", 3),
        return_exceptions=True,
    )
    scored = [o for o in outcomes if isinstance(o, ChatResult)]
    refused = [o for o in outcomes if isinstance(o, DomainError)]
    assert len(scored) == 1 and len(refused) == 1, outcomes
    # Conflict when the claim lost the race; InvalidInput when the read came after it.
    assert isinstance(refused[0], (Conflict, InvalidInput))
    assert scored[0].quiz_attempt is not None and scored[0].quiz_attempt.total == 3
    async with gateway.db.read() as db:
        attempts = await db.scalar(select(func.count()).select_from(QuizAttempt))
        assert attempts == 1
        with pytest.raises(Forbidden):
            await service.list_quiz_attempts(db, people.bob, people.ana.id, limit=10)
        seen = await service.list_quiz_attempts(db, people.admin, people.ana.id, limit=10)
        assert [a.correct for a in seen] == [scored[0].quiz_attempt.correct]


async def test_answers_are_validated_before_the_question_is_claimed(
    gateway: Gateway, people: People
) -> None:
    await send(gateway, people.ana, "plain", "hola")
    await send(gateway, people.ana, "quiz", "Hazme un test de algoritmos")
    refusals: list[tuple[str, str, int, type[DomainError]]] = [
        ("plain", "O(n log n)", 1, InvalidInput),  # no pending question
        ("quiz", "   ", 1, InvalidInput),  # an empty answer
        ("quiz", "O(n log n)", 2, InvalidInput),  # not the pending question
        ("nope", "O(n log n)", 1, NotFound),
        ("no spaces", "O(n log n)", 1, InvalidInput),
    ]
    for session_id, text, index, error in refusals:
        with pytest.raises(error):
            await answer(gateway, people.ana, session_id, text, index)
    with pytest.raises(Forbidden):
        await answer(gateway, people.bob, "quiz", "O(n log n)", 1)
    async with gateway.db.read() as db:
        view = await service.get_session(db, people.ana, "quiz")
    assert view.pending_question is not None and view.pending_question["question_num"] == 1
    assert service.title_from("  a\n\tb  ") == "a b"
    assert service.title_from("x" * 500) == "x" * (TITLE_CHARS - 1) + "…"


async def _next(events: AsyncGenerator[MessageView, None]) -> MessageView:
    return await anext(events)


class ListenedBroker(MemoryBroker):
    """Says when a stream starts listening, so an event is published only once it is heard."""

    def __init__(self) -> None:
        super().__init__()
        self.listening = asyncio.Event()

    def add(self, channel: str) -> asyncio.Queue[dict[str, Any]]:
        self.listening.set()
        return super().add(channel)


async def _published(broker: ListenedBroker, actor: Actor, session_id: str) -> MessageView:
    """Publish one of `actor`'s messages once the stream is listening."""
    channel = chat.channel(session_id)
    async with asyncio.timeout(10):
        await broker.listening.wait()
    broker.listening.clear()
    message = MessageView(
        id=1, session_id=session_id, role="user", content="x", status="sent", created_at=utcnow()
    )
    await broker.publish(
        channel, {"user_id": str(actor.id), "message": message.model_dump(mode="json")}
    )
    return message


async def test_a_message_stream_rechecks_caller_and_owner_per_event(
    gateway: Gateway, people: People
) -> None:
    await send(gateway, people.ana, "s-ana", "hola")
    broker = ListenedBroker()
    claims = People.claims(people.ana)

    with pytest.raises(Forbidden):  # refused before any event
        await chat.watch_messages(gateway.db, broker, people.bob, "s-ana", lambda: claims)

    events = await chat.watch_messages(gateway.db, broker, people.ana, "s-ana", lambda: claims)
    listening = asyncio.create_task(_next(events))
    sent = await _published(broker, people.ana, "s-ana")
    assert (await listening).content == sent.content

    # The session goes away: the next event ends the stream with NotFound.
    listening = asyncio.create_task(_next(events))
    async with gateway.db.transaction() as db:
        await db.execute(delete(ChatSession).where(ChatSession.id == "s-ana"))
    await broker.publish(
        chat.channel("s-ana"),
        {"user_id": str(people.ana.id), "message": sent.model_dump(mode="json")},
    )
    with pytest.raises(NotFound):
        await listening
    await events.aclose()

    # A token that expired meanwhile ends it with Unauthenticated.
    await send(gateway, people.ana, "s-ana", "otra vez")

    def expired() -> TokenClaims:
        raise Unauthenticated("Token expired")

    events = await chat.watch_messages(gateway.db, broker, people.ana, "s-ana", expired)
    listening = asyncio.create_task(_next(events))
    await _published(broker, people.ana, "s-ana")
    with pytest.raises(Unauthenticated):
        await listening
    await events.aclose()
