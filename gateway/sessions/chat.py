"""The chat flow: talking to the tutor, and the messages it stores as they arrive.

The chat flow breaks the one-transaction-per-request rule on purpose: the user's message is
committed and the connection released BEFORE the (slow) upstream call; the reply is stored in
a second short transaction. A failed call leaves the message stored and marked "failed".

Each step is one transaction (GatedDatabase.connect), and every write after the upstream call
is scoped to the caller's message in the caller's session: the session id is client-chosen, so
while the tutor answers, the session may have been deleted and re-created by someone else.
Message ids are never reused (AUTOINCREMENT on SQLite, a sequence on PostgreSQL), so "this
message still exists in this session of mine" identifies the very session the chat started in.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from collections.abc import AsyncGenerator, Callable
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.adapters.broker import Broker
from gateway.adapters.db_gate import GatedDatabase
from gateway.adapters.tutor_client import Chatbot, UpstreamReply
from gateway.analytics import aggregates, live
from gateway.auth import service as auth
from gateway.auth.actor import Actor, require_actor
from gateway.auth.tokens import TokenClaims
from gateway.db import Database, utcnow
from gateway.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound, Unauthenticated
from gateway.sessions import quiz, repository
from gateway.sessions.schemas import (
    ChatInput,
    ChatResult,
    MessageView,
    QuizAttemptView,
    ResumeInput,
    SessionView,
)
from gateway.sessions.service import NOT_YOURS, check_owner, check_session_id, owned, title_from
from gateway.subjects.service import check_chat_access

log = logging.getLogger("gateway.sessions")


def channel(session_id: str) -> str:
    return f"session:{session_id}"


async def _caller_with_chat_access(
    conn: AsyncConnection, claims: TokenClaims, subject_id: str
) -> Actor:
    """Who is calling and whether they may talk about the subject, in one statement: the
    caller's row (auth.service.actor_of applies the identity rule to it) and the subject's
    access facts. The access rule itself is subjects.service.check_chat_access."""
    row = await repository.caller_with_subject(conn, claims.user_id, subject_id)
    if row is None:
        raise Unauthenticated("Could not validate credentials")
    username, role, subject, professor_id, is_enrolled = row
    actor = auth.actor_of(claims, claims.user_id, username, role)
    if subject is None:
        raise NotFound("Subject not found")
    check_chat_access(actor, professor_id=professor_id, enrolled=bool(is_enrolled))
    return actor


async def _insert_message(
    conn: AsyncConnection, session_id: str, role: str, content: str, status: str
) -> MessageView:
    now = utcnow()
    message_id = await repository.insert_message(
        conn, session_id=session_id, role=role, content=content, status=status, now=now
    )
    return MessageView(
        id=message_id,
        session_id=session_id,
        role=role,
        content=content,
        status=status,
        created_at=now,
    )


async def _publish(broker: Broker, user_id: uuid.UUID, message: MessageView) -> None:
    await broker.publish(
        channel(message.session_id),
        {"user_id": str(user_id), "message": message.model_dump(mode="json")},
    )


def _reply_text(reply: UpstreamReply) -> str:
    if reply.message is not None:
        return reply.message.content
    if reply.interrupt_info is not None:
        return reply.interrupt_info.question_text
    return ""


async def _store_reply(
    conn: AsyncConnection,
    actor: Actor,
    user_message: MessageView,
    text: str,
    pending: dict[str, Any] | None,
    score: quiz.Score | None,
) -> tuple[SessionView, MessageView | None, QuizAttemptView | None]:
    session_id = user_message.session_id
    # Only the caller's own session: an id deleted meanwhile may have been re-created by
    # someone else. The count is taken before this reply's message is added.
    row = await repository.store_reply_on_session(
        conn,
        owner_id=actor.id,
        session_id=session_id,
        message_id=user_message.id,
        pending=pending,
        now=utcnow(),
    )
    if row is None:
        raise NotFound("Session was deleted while the tutor was answering")
    subject_id, title, created_at, last_active, message_count = row
    assistant = None
    if text:
        assistant = await _insert_message(conn, session_id, "assistant", text, "ok")
        message_count += 1
    attempt = None
    if score is not None:
        values = {
            "user_id": actor.id,
            "subject_id": subject_id,
            "session_id": session_id,
            "correct": score.correct,
            "total": score.total,
            "percentage": score.percentage,
            "created_at": utcnow(),
        }
        attempt_id = await repository.insert_quiz_attempt(conn, values)
        attempt = QuizAttemptView.model_validate({**values, "id": attempt_id})
    await repository.set_message_status(conn, user_message.id, "answered")
    # Last: the subject's aggregate row is every completion's lock; hold it until commit only.
    await aggregates.reply_stored(conn, actor.id, subject_id, last_active, attempt)
    view = SessionView(
        id=session_id,
        user_id=str(actor.id),
        username=actor.username,
        subject_id=subject_id,
        title=title,
        created_at=created_at,
        last_active=last_active,
        message_count=message_count,
        pending_question=pending,
        last_error=None,
    )
    return view, assistant, attempt


async def _record_failure(
    database: GatedDatabase,
    actor: Actor,
    user_message: MessageView,
    detail: str,
    restore_question: dict[str, Any] | None,
) -> None:
    """Mark the caller's message failed and say why on its session, in one transaction; nothing
    when that session is gone (deleted, or re-created by anyone since)."""
    owner, session_id, message_id = actor.id, user_message.session_id, user_message.id
    async with database.connect() as conn:
        if not await repository.set_last_error(
            conn, owner_id=owner, session_id=session_id, message_id=message_id, detail=detail[:500]
        ):
            return
        await repository.fail_message(conn, message_id)
        if restore_question is not None:  # unless a newer question is pending meanwhile
            await repository.restore_pending_question(
                conn,
                owner_id=owner,
                session_id=session_id,
                message_id=message_id,
                question=restore_question,
            )


STRANDED = "The tutor's answer was lost (the server stopped while it was answering); send it again"
# Beyond the upstream budget: the reply's second step may queue for a chat slot under load.
STRANDED_MARGIN = dt.timedelta(minutes=5)


async def fail_stranded_messages(database: Database, *, upstream_budget: dt.timedelta) -> int:
    """User messages still "sent" long after any chat could still be waiting for them (the
    process died, or a shutdown outlived its grace) become "failed"; where such a message is
    its session's latest, the session's lastError says why. Returns how many were marked."""
    cutoff = utcnow() - upstream_budget - STRANDED_MARGIN
    async with database.connect() as conn:
        return await repository.fail_stranded_messages(conn, cutoff=cutoff, why=STRANDED)


async def sweep_stranded_messages(
    database: Database,
    *,
    upstream_timeout_seconds: float,
    interval_seconds: float,
    swept: asyncio.Event,
) -> None:
    """fail_stranded_messages at start-up and then every `interval_seconds`, for the life of the
    process: a process that survived a database outage has its own stranded messages. Logs,
    never raises; `swept` is set after each pass."""
    budget = dt.timedelta(seconds=upstream_timeout_seconds)
    while True:
        try:
            if marked := await fail_stranded_messages(database, upstream_budget=budget):
                log.warning("marked %d stranded chat message(s) failed", marked)
        except Exception:  # the database is down: the next pass tries again
            log.warning("could not look for stranded chat messages", exc_info=True)
        swept.set()
        await asyncio.sleep(interval_seconds)


async def _ask(
    database: GatedDatabase,
    broker: Broker,
    actor: Actor,
    user_message: MessageView,
    call: Any,
    *,
    restore_question: dict[str, Any] | None = None,
    quiz_in_progress: bool = False,
) -> ChatResult:
    """Call the upstream with no DB connection held, then store what happened."""
    try:
        reply: UpstreamReply = await call()
    except DomainError as exc:
        await _record_failure(database, actor, user_message, exc.detail, restore_question)
        raise

    text = _reply_text(reply)
    pending = (
        reply.interrupt_info.model_dump() if reply.interrupted and reply.interrupt_info else None
    )
    score = None
    if quiz_in_progress and not reply.interrupted:
        score = quiz.final_score(reply.score, reply.message.content if reply.message else None)
    try:
        async with database.connect() as conn:
            view, assistant_view, attempt_view = await _store_reply(
                conn, actor, user_message, text, pending, score
            )
    except IntegrityError as exc:  # the subject went away meanwhile (its sessions with it)
        raise NotFound("Session was deleted while the tutor was answering") from exc
    if assistant_view is not None:
        await _publish(broker, actor.id, assistant_view)
    if attempt_view is not None:
        await live.publish(broker, attempt_view.subject_id, actor.id)
    return ChatResult(
        session=view,
        user_message=user_message.model_copy(update={"status": "answered"}),
        assistant_message=assistant_view,
        response=text,
        interrupted=reply.interrupted,
        interrupt_info=pending,
        upstream_message=reply.message.model_dump() if reply.message else None,
        quiz_attempt=attempt_view,
    )


async def send_message(
    database: GatedDatabase,
    chatbot: Chatbot,
    broker: Broker,
    caller: TokenClaims,
    data: ChatInput,
) -> ChatResult:
    """`caller`: the token's verified claims (auth.service.identify); the caller's row is
    read in the same statement as the subject's access facts, on the chat's own connection."""
    try:
        async with database.connect() as conn:  # one transaction: a refusal undoes the upsert
            actor = await _caller_with_chat_access(conn, caller, data.asignatura)
            owner, subject = await repository.touch_or_create_session(
                conn,
                session_id=data.id,
                user_id=actor.id,
                subject_id=data.asignatura,
                title=title_from(data.text),
                now=utcnow(),
            )
            if owner != actor.id:
                raise Forbidden(NOT_YOURS)
            if subject != data.asignatura:
                raise InvalidInput(f"Session {data.id} is about subject {subject}")
            user_message = await _insert_message(conn, data.id, "user", data.text, "sent")
            await aggregates.chat_touched(conn, data.id)
    except IntegrityError as exc:  # the subject (or the caller) was deleted after the check
        raise NotFound("Subject not found") from exc
    await _publish(broker, actor.id, user_message)
    return await _ask(
        database,
        broker,
        actor,
        user_message,
        lambda: chatbot.chat(
            query=data.text, session_id=data.id, subject=data.asignatura, user=actor.username
        ),
    )


async def answer_question(
    database: GatedDatabase,
    chatbot: Chatbot,
    broker: Broker,
    caller: TokenClaims,
    session_id: str,
    data: ResumeInput,
) -> ChatResult:
    """`caller`: as for send_message."""
    session_id = check_session_id(session_id)
    async with database.connect() as conn:
        row = await repository.pending_question_of(conn, session_id)
        if row is None:
            raise NotFound("Session not found")
        owner, subject_id, pending = row
        if owner != caller.user_id:
            raise Forbidden(NOT_YOURS)
        actor = await _caller_with_chat_access(conn, caller, subject_id)
        if not pending:
            raise InvalidInput("No pending question in this session")
        answer = data.answer.strip()
        if not answer or "\x00" in answer:
            raise InvalidInput("Answer must be a non-empty string")
        expected = pending.get("question_num")
        if data.current_question_index != expected:
            raise InvalidInput(
                f"current_question_index {data.current_question_index} is not the pending "
                f"question ({expected})"
            )
        # The claim: one answer per question on both engines. The read above took no lock;
        # the claim is atomic and re-checks the question.
        if not await repository.claim_question(
            conn,
            session_id=session_id,
            owner_id=actor.id,
            index=data.current_question_index,
            now=utcnow(),
        ):
            raise Conflict("This question was already answered")
        await aggregates.chat_touched(conn, session_id)
        user_message = await _insert_message(conn, session_id, "user", answer, "sent")
    await _publish(broker, actor.id, user_message)
    return await _ask(
        database,
        broker,
        actor,
        user_message,
        lambda: chatbot.resume(session_id=session_id, answer=answer),
        restore_question=pending,
        quiz_in_progress=True,
    )


# --- messages as they are stored -----------------------------------------------------------


async def watch_messages(
    database: Database | GatedDatabase,
    broker: Broker,
    actor: Actor | None,
    session_id: str,
    current_claims: Callable[[], TokenClaims],
) -> AsyncGenerator[MessageView, None]:
    """Messages of one of the caller's sessions as they are stored (by any process).

    Access is checked now, so a refusal comes before any event; the stream then re-checks the
    caller before delivering each event (`current_claims` verifies the token again, expiry
    included; one statement reads the caller's row and the session's owner), so a deleted
    account, an expired token or a session that is no longer theirs ends it (with that error)."""
    actor = require_actor(actor)
    session_id = check_session_id(session_id)
    async with database.read() as db:
        await owned(db, actor, session_id)
    return _message_events(database, broker, session_id, current_claims)


async def _message_events(
    database: Database | GatedDatabase,
    broker: Broker,
    session_id: str,
    current_claims: Callable[[], TokenClaims],
) -> AsyncGenerator[MessageView, None]:
    async with broker.subscribe(channel(session_id)) as queue:
        while True:
            event = await queue.get()
            actor, owner_id = await _caller_and_owner(database, current_claims, session_id)
            # Ids are client-chosen: a deleted-then-recreated id may belong to someone else.
            if event.get("user_id") != str(actor.id):
                continue
            check_owner(actor, owner_id)
            yield MessageView.model_validate(event["message"])


async def _caller_and_owner(
    database: Database | GatedDatabase,
    current_claims: Callable[[], TokenClaims],
    session_id: str,
) -> tuple[Actor, uuid.UUID | None]:
    """The caller, re-read under the one identity rule (auth.service.actor_of), and the
    session's current owner, in one statement."""
    claims = current_claims()
    async with database.read() as db:
        row = await repository.caller_with_session_owner(db, claims.user_id, session_id)
    if row is None:
        raise Unauthenticated("Could not validate credentials")
    return auth.actor_of(claims, claims.user_id, row.username, row.role), row.owner_id
