"""Every rule about chat sessions, messages and quizzes.

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
import re
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from typing import Any, cast

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    and_,
    delete,
    func,
    insert,
    null,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import aliased

from gateway.adapters.broker import Broker
from gateway.adapters.db_gate import GatedDatabase
from gateway.adapters.tutor_client import Chatbot, UpstreamReply
from gateway.analytics import aggregates, live
from gateway.auth import service as auth
from gateway.auth.actor import Actor, require_actor
from gateway.auth.tokens import TokenClaims
from gateway.db import Database, utcnow
from gateway.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthenticated,
)
from gateway.sessions import quiz
from gateway.sessions.models import ChatSession, Message, QuizAttempt
from gateway.sessions.schemas import (
    TITLE_CHARS,
    ChatInput,
    ChatResult,
    MessageView,
    QuizAttemptView,
    RenameInput,
    ResumeInput,
    SessionId,
    SessionView,
)
from gateway.subjects.models import Enrollment, Subject
from gateway.subjects.service import check_chat_access
from gateway.users.models import Role, User

log = logging.getLogger("gateway.sessions")
NOT_YOURS = "Session doesn't belong to user"
_session_id: TypeAdapter[str] = TypeAdapter(SessionId)


def check_session_id(session_id: str) -> str:
    try:
        return _session_id.validate_python(session_id)
    except ValidationError as exc:
        raise InvalidInput("Invalid session id", argument="sessionId") from exc


def channel(session_id: str) -> str:
    return f"session:{session_id}"


def title_from(text: str) -> str:
    flat = re.sub(r"\s+", " ", text).strip()
    return flat if len(flat) <= TITLE_CHARS else flat[: TITLE_CHARS - 1].rstrip() + "…"


# --- reading -------------------------------------------------------------------------------


def _message_count() -> Any:
    return (
        select(func.count(Message.id))
        .where(Message.session_id == ChatSession.id)
        .correlate(ChatSession)
        .scalar_subquery()
    )


def _sessions() -> Select[Any]:
    return select(ChatSession, User.username, _message_count().label("n")).join(
        User, User.id == ChatSession.user_id
    )


def _view(session: ChatSession, username: str, count: int) -> SessionView:
    return SessionView(
        id=session.id,
        user_id=str(session.user_id),
        username=username,
        subject_id=session.subject_id,
        title=session.title,
        created_at=session.created_at,
        last_active=session.last_active,
        message_count=count,
        pending_question=session.pending_question,
        last_error=session.last_error,
    )


async def _owned(db: AsyncSession, actor: Actor, session_id: str) -> SessionView:
    row = (await db.execute(_sessions().where(ChatSession.id == session_id))).one_or_none()
    if row is None:
        raise NotFound("Session not found")
    session, username, count = row
    if session.user_id != actor.id:
        raise Forbidden(NOT_YOURS)
    return _view(session, username, count)


async def get_session(db: AsyncSession, actor: Actor | None, session_id: str) -> SessionView:
    actor = require_actor(actor)
    return await _owned(db, actor, check_session_id(session_id))


async def get_sessions(
    db: AsyncSession, actor: Actor | None, session_ids: Sequence[str]
) -> list[SessionView | DomainError]:
    """Several sessions in one statement (GraphQL `session` and `node` batches): per id its
    view or the error get_session would raise for it alone."""
    actor = require_actor(actor)
    checked: list[str | DomainError] = []
    for session_id in session_ids:
        try:
            checked.append(check_session_id(session_id))
        except DomainError as exc:
            checked.append(exc)
    ids = [s for s in checked if isinstance(s, str)]
    found = {}
    if ids:
        rows = await db.execute(_sessions().where(ChatSession.id.in_(ids)))
        found = {session.id: (session, username, n) for session, username, n in rows}
    result: list[SessionView | DomainError] = []
    for item in checked:
        if isinstance(item, DomainError):
            result.append(item)
        elif item not in found:
            result.append(NotFound("Session not found"))
        elif found[item][0].user_id != actor.id:
            result.append(Forbidden(NOT_YOURS))
        else:
            result.append(_view(*found[item]))
    return result


async def list_sessions(
    db: AsyncSession,
    actor: Actor | None,
    *,
    subject: str | None,
    limit: int,
    skip: int = 0,
    after: tuple[dt.datetime, str] | None = None,
) -> list[SessionView]:
    """The caller's own sessions, most recently active first, message counts from SQL.
    `after`: (last_active, id) of the last session already seen (keyset paging)."""
    actor = require_actor(actor)
    query = _sessions().where(ChatSession.user_id == actor.id)
    if subject:
        query = query.where(ChatSession.subject_id == subject)
    if after is not None:
        last_active, session_id = after
        query = query.where(
            or_(
                ChatSession.last_active < last_active,
                and_(ChatSession.last_active == last_active, ChatSession.id > session_id),
            )
        )
    query = query.order_by(ChatSession.last_active.desc(), ChatSession.id).limit(limit).offset(skip)
    return [_view(s, username, n) for s, username, n in await db.execute(query)]


async def list_messages(
    db: AsyncSession, actor: Actor | None, session_id: str, *, limit: int, skip: int
) -> tuple[SessionView, list[MessageView]]:
    session = await get_session(db, actor, session_id)
    page = await messages_of(db, [session.id], limit=limit, skip=skip)
    return session, page.get(session.id, [])


async def messages_of(
    db: AsyncSession, session_ids: Sequence[str], *, limit: int, skip: int = 0, after_id: int = 0
) -> dict[str, list[MessageView]]:
    """One page of messages for each of several (already authorised) sessions, oldest first,
    in ONE statement: a window function numbers each session's messages. `after_id`: only
    messages after this one (keyset paging)."""
    if not session_ids:
        return {}
    ranked = (
        select(
            Message,
            func.row_number()
            .over(partition_by=Message.session_id, order_by=Message.id)
            .label("rn"),
        )
        .where(Message.session_id.in_(list(session_ids)), Message.id > after_id)
        .subquery()
    )
    msg = aliased(Message, ranked)
    rows = await db.execute(
        select(msg)
        .where(ranked.c.rn > skip, ranked.c.rn <= skip + limit)
        .order_by(ranked.c.session_id, ranked.c.id)
    )
    found: dict[str, list[MessageView]] = {sid: [] for sid in session_ids}
    for message in rows.scalars():
        found[message.session_id].append(MessageView.model_validate(message))
    return found


def _check_sees_attempts(actor: Actor, user_id: uuid.UUID) -> None:
    if actor.id != user_id and actor.role is not Role.ADMIN:
        raise Forbidden("Only the user and admins see quiz attempts")


async def list_quiz_attempts(
    db: AsyncSession,
    actor: Actor | None,
    user_id: uuid.UUID,
    *,
    limit: int,
    skip: int = 0,
    after: tuple[dt.datetime, int] | None = None,
) -> list[QuizAttemptView]:
    """A user's quiz results, newest first: visible to that user and to admins. `after`:
    (created_at, id) of the last attempt already seen (keyset paging)."""
    actor = require_actor(actor)
    _check_sees_attempts(actor, user_id)
    query = select(QuizAttempt).where(QuizAttempt.user_id == user_id)
    if after is not None:
        created_at, attempt_id = after
        query = query.where(
            or_(
                QuizAttempt.created_at < created_at,
                and_(QuizAttempt.created_at == created_at, QuizAttempt.id < attempt_id),
            )
        )
    rows = await db.scalars(
        query.order_by(QuizAttempt.created_at.desc(), QuizAttempt.id.desc())
        .limit(limit)
        .offset(skip)
    )
    return [QuizAttemptView.model_validate(a) for a in rows]


async def get_quiz_attempts(
    db: AsyncSession, actor: Actor | None, attempt_ids: Sequence[int]
) -> list[QuizAttemptView | DomainError]:
    """Attempts by id in one statement (GraphQL `node`), with list_quiz_attempts' rule."""
    actor = require_actor(actor)
    rows = await db.scalars(select(QuizAttempt).where(QuizAttempt.id.in_(set(attempt_ids))))
    found = {a.id: a for a in rows}
    result: list[QuizAttemptView | DomainError] = []
    for attempt_id in attempt_ids:
        attempt = found.get(attempt_id)
        if attempt is None:
            result.append(NotFound("Quiz attempt not found"))
            continue
        try:
            _check_sees_attempts(actor, attempt.user_id)
            result.append(QuizAttemptView.model_validate(attempt))
        except DomainError as exc:
            result.append(exc)
    return result


async def get_messages(
    db: AsyncSession, actor: Actor | None, message_ids: Sequence[int]
) -> list[MessageView | DomainError]:
    """Messages by id in one statement (GraphQL `node`): the rule of their session (only its
    owner reads it; get_session's errors)."""
    actor = require_actor(actor)
    rows = await db.execute(
        select(Message, ChatSession.user_id)
        .join(ChatSession, ChatSession.id == Message.session_id)
        .where(Message.id.in_(set(message_ids)))
    )
    found = {message.id: (message, owner) for message, owner in rows}
    result: list[MessageView | DomainError] = []
    for message_id in message_ids:
        if message_id not in found:
            result.append(NotFound("Message not found"))
        elif found[message_id][1] != actor.id:
            result.append(Forbidden(NOT_YOURS))
        else:
            result.append(MessageView.model_validate(found[message_id][0]))
    return result


# --- changing a session --------------------------------------------------------------------


async def delete_session(db: AsyncSession, actor: Actor | None, session_id: str) -> None:
    """Messages go with the session; quiz attempts stay (analytics) with session_id NULL."""
    actor = require_actor(actor)
    session = await _owned(db, actor, check_session_id(session_id))
    await db.execute(delete(ChatSession).where(ChatSession.id == session.id))
    await aggregates.session_deleted(db, session.user_id, session.subject_id)


async def rename_session(
    db: AsyncSession, actor: Actor | None, session_id: str, data: RenameInput
) -> SessionView:
    actor = require_actor(actor)
    session = await _owned(db, actor, check_session_id(session_id))
    await db.execute(
        update(ChatSession).where(ChatSession.id == session.id).values(title=data.title)
    )
    return session.model_copy(update={"title": data.title})


# --- talking to the tutor ------------------------------------------------------------------
# The chat flow runs on SQLAlchemy Core over a bare connection (GatedDatabase.connect): a
# chat is two short transactions of three statements each, with no ORM unit of work.

SESSIONS = cast(Table, ChatSession.__table__)
MESSAGES = cast(Table, Message.__table__)
ATTEMPTS = cast(Table, QuizAttempt.__table__)
SUBJECTS = cast(Table, Subject.__table__)
USERS = cast(Table, User.__table__)
ENROLLMENTS = cast(Table, Enrollment.__table__)


async def _caller_with_chat_access(
    conn: AsyncConnection, claims: TokenClaims, subject_id: str
) -> Actor:
    """Who is calling and whether they may talk about the subject, in one statement: the
    caller's row (auth.service.actor_of applies the identity rule to it) and the subject's
    access facts. The access rule itself is subjects.service.check_chat_access."""
    user_id = claims.user_id
    enrolled = (
        select(ENROLLMENTS.c.subject_id)
        .where(ENROLLMENTS.c.student_id == user_id, ENROLLMENTS.c.subject_id == subject_id)
        .exists()
    )
    row = (
        await conn.execute(
            select(USERS.c.username, USERS.c.role, SUBJECTS.c.id, SUBJECTS.c.professor_id, enrolled)
            .select_from(USERS)
            .outerjoin(SUBJECTS, SUBJECTS.c.id == subject_id)
            .where(USERS.c.id == user_id)
        )
    ).one_or_none()
    if row is None:
        raise Unauthenticated("Could not validate credentials")
    username, role, subject, professor_id, is_enrolled = row
    actor = auth.actor_of(claims, user_id, username, role)
    if subject is None:
        raise NotFound("Subject not found")
    check_chat_access(actor, professor_id=professor_id, enrolled=bool(is_enrolled))
    return actor


async def _touch_or_create_session(
    conn: AsyncConnection, actor: Actor, session_id: str, subject_id: str, title: str
) -> tuple[uuid.UUID, str]:
    """Race-free auto-creation in one round trip: create the session or bump last_active,
    and return its owner and subject (the caller refuses, and so rolls back, a stranger)."""
    now = utcnow()
    module = postgresql if conn.dialect.name == "postgresql" else sqlite
    insert = module.insert(SESSIONS).values(
        id=session_id,
        user_id=actor.id,
        subject_id=subject_id,
        title=title,
        created_at=now,
        last_active=now,
    )
    row = (
        await conn.execute(
            insert.on_conflict_do_update(
                index_elements=["id"], set_={"last_active": now}
            ).returning(SESSIONS.c.user_id, SESSIONS.c.subject_id)
        )
    ).one()
    return row[0], row[1]


async def _insert_message(
    conn: AsyncConnection, session_id: str, role: str, content: str, status: str
) -> MessageView:
    now = utcnow()
    row = (
        await conn.execute(
            insert(MESSAGES)
            .values(
                session_id=session_id, role=role, content=content, status=status, created_at=now
            )
            .returning(MESSAGES.c.id)
        )
    ).one()
    return MessageView(
        id=row[0], session_id=session_id, role=role, content=content, status=status, created_at=now
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
    count = (
        select(func.count(MESSAGES.c.id))
        .where(MESSAGES.c.session_id == session_id)  # a bind: SQLite's RETURNING drops qualifiers
        .scalar_subquery()
    )
    row = (
        await conn.execute(
            update(SESSIONS)
            .where(_same_session(actor, user_message))
            .values(pending_question=pending, last_error=None, last_active=utcnow())
            .returning(
                SESSIONS.c.subject_id,
                SESSIONS.c.title,
                SESSIONS.c.created_at,
                SESSIONS.c.last_active,
                count,
            )
        )
    ).one_or_none()
    if row is None:
        raise NotFound("Session was deleted while the tutor was answering")
    subject_id, title, created_at, last_active, message_count = row
    assistant = None
    if text:
        assistant = await _insert_message(conn, session_id, "assistant", text, "ok")
        message_count += 1
    attempt = None
    if score is not None:
        now = utcnow()
        values = {
            "user_id": actor.id,
            "subject_id": subject_id,
            "session_id": session_id,
            "correct": score.correct,
            "total": score.total,
            "percentage": score.percentage,
        }
        attempt_id = await conn.scalar(
            insert(ATTEMPTS).values(**values, created_at=now).returning(ATTEMPTS.c.id)
        )
        attempt = QuizAttemptView.model_validate({**values, "id": attempt_id, "created_at": now})
    await conn.execute(
        update(MESSAGES).where(MESSAGES.c.id == user_message.id).values(status="answered")
    )
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


def _same_session(actor: Actor, user_message: MessageView) -> ColumnElement[bool]:
    """The session `user_message` was stored in, still the caller's: not a namesake created
    after a delete (its messages went with it, and message ids are never reused)."""
    still_there = (
        select(MESSAGES.c.id)
        .where(MESSAGES.c.id == user_message.id, MESSAGES.c.session_id == user_message.session_id)
        .exists()
    )
    return (
        (SESSIONS.c.id == user_message.session_id) & (SESSIONS.c.user_id == actor.id) & still_there
    )


def _pending_index() -> ColumnElement[int]:
    """The pending question's number; NULL when no question is pending (SQL or JSON null)."""
    return SESSIONS.c.pending_question["question_num"].as_integer()


async def _record_failure(
    database: GatedDatabase,
    actor: Actor,
    user_message: MessageView,
    detail: str,
    restore_question: dict[str, Any] | None,
) -> None:
    """Mark the caller's message failed and say why on its session, in one transaction; nothing
    when that session is gone (deleted, or re-created by anyone since)."""
    async with database.connect() as conn:
        session = await conn.execute(
            update(SESSIONS)
            .where(_same_session(actor, user_message))
            .values(last_error=detail[:500])
        )
        if session.rowcount != 1:
            return
        await conn.execute(
            update(MESSAGES)
            .where(MESSAGES.c.id == user_message.id, MESSAGES.c.status == "sent")
            .values(status="failed")
        )
        if restore_question is not None:  # unless a newer question is pending meanwhile
            await conn.execute(
                update(SESSIONS)
                .where(_same_session(actor, user_message), _pending_index().is_(None))
                .values(pending_question=restore_question)
            )


STRANDED = "The tutor's answer was lost (the server stopped while it was answering); send it again"
# Beyond the upstream budget: the reply's second step may queue for a chat slot under load.
STRANDED_MARGIN = dt.timedelta(minutes=5)


async def fail_stranded_messages(database: Database, *, upstream_budget: dt.timedelta) -> int:
    """User messages still "sent" long after any chat could still be waiting for them (the
    process died, or a shutdown outlived its grace) become "failed"; where such a message is
    its session's latest, the session's lastError says why. Returns how many were marked."""
    cutoff = utcnow() - upstream_budget - STRANDED_MARGIN
    stranded = and_(
        MESSAGES.c.status == "sent", MESSAGES.c.role == "user", MESSAGES.c.created_at < cutoff
    )
    later = MESSAGES.alias("later")
    superseded = (
        select(later.c.id)
        .where(later.c.session_id == MESSAGES.c.session_id, later.c.id > MESSAGES.c.id)
        .exists()
    )
    async with database.connect() as conn:
        await conn.execute(
            update(SESSIONS)
            .where(SESSIONS.c.id.in_(select(MESSAGES.c.session_id).where(stranded, ~superseded)))
            .values(last_error=STRANDED)
        )
        marked = await conn.execute(update(MESSAGES).where(stranded).values(status="failed"))
    return marked.rowcount


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
            owner, subject = await _touch_or_create_session(
                conn, actor, data.id, data.asignatura, title_from(data.text)
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
        row = (
            await conn.execute(
                select(
                    SESSIONS.c.user_id, SESSIONS.c.subject_id, SESSIONS.c.pending_question
                ).where(SESSIONS.c.id == session_id)
            )
        ).one_or_none()
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
        # The claim: one answer per question on both engines. The read above took no lock
        # (SQLite has no FOR UPDATE); this UPDATE is atomic and re-checks the question, so of
        # several concurrent answers exactly one sees a row.
        claimed = await conn.execute(
            update(SESSIONS)
            .where(
                SESSIONS.c.id == session_id,
                SESSIONS.c.user_id == actor.id,
                _pending_index() == data.current_question_index,
            )
            .values(pending_question=null(), last_active=utcnow())
        )
        if claimed.rowcount != 1:
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


async def watch_messages(
    database: Database | GatedDatabase,
    broker: Broker,
    actor: Actor | None,
    session_id: str,
    reread_caller: Callable[[], Awaitable[Actor | None]],
) -> AsyncGenerator[MessageView, None]:
    """Messages of one of the caller's sessions as they are stored (by any process).

    Access is checked now, so a refusal comes before any event; the stream then re-reads the
    caller and re-checks access before delivering each event, so a deleted account, an expired
    token or a session that is no longer theirs ends it (with that error)."""
    actor = require_actor(actor)
    session_id = check_session_id(session_id)
    async with database.read() as db:
        await _owned(db, actor, session_id)
    return _message_events(database, broker, session_id, reread_caller)


async def _message_events(
    database: Database | GatedDatabase,
    broker: Broker,
    session_id: str,
    reread_caller: Callable[[], Awaitable[Actor | None]],
) -> AsyncGenerator[MessageView, None]:
    async with broker.subscribe(channel(session_id)) as queue:
        while True:
            event = await queue.get()
            actor = require_actor(await reread_caller())
            # Ids are client-chosen: a deleted-then-recreated id may belong to someone else.
            if event.get("user_id") != str(actor.id):
                continue
            async with database.read() as db:
                await _owned(db, actor, session_id)
            yield MessageView.model_validate(event["message"])
