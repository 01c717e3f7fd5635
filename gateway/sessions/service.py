"""Every rule about reading and changing chat sessions, their messages and quiz attempts (the
chat flow itself, talking to the tutor, is in sessions.chat). Statements are in
sessions.repository."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Sequence
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.analytics import aggregates
from gateway.auth.actor import Actor, require_actor
from gateway.errors import DomainError, Forbidden, InvalidInput, NotFound
from gateway.sessions import repository
from gateway.sessions.schemas import (
    TITLE_CHARS,
    MessageView,
    QuizAttemptView,
    RenameInput,
    SessionId,
    SessionView,
)
from gateway.users.models import Role

NOT_YOURS = "Session doesn't belong to user"
_session_id: TypeAdapter[str] = TypeAdapter(SessionId)


def check_session_id(session_id: str) -> str:
    try:
        return _session_id.validate_python(session_id)
    except ValidationError as exc:
        raise InvalidInput("Invalid session id", argument="sessionId") from exc


def title_from(text: str) -> str:
    flat = re.sub(r"\s+", " ", text).strip()
    return flat if len(flat) <= TITLE_CHARS else flat[: TITLE_CHARS - 1].rstrip() + "…"


def _view(row: Any) -> SessionView:
    return SessionView(
        id=row.id,
        user_id=str(row.user_id),
        username=row.username,
        subject_id=row.subject_id,
        title=row.title,
        created_at=row.created_at,
        last_active=row.last_active,
        message_count=row.message_count,
        pending_question=row.pending_question,
        last_error=row.last_error,
    )


def check_owner(actor: Actor, owner_id: uuid.UUID | None) -> None:
    """The one rule for a session: it exists, and only its owner reads or changes it."""
    if owner_id is None:
        raise NotFound("Session not found")
    if owner_id != actor.id:
        raise Forbidden(NOT_YOURS)


async def owned(db: AsyncSession, actor: Actor, session_id: str) -> SessionView:
    row = await repository.session_by_id(db, session_id)
    check_owner(actor, row.user_id if row is not None else None)
    assert row is not None
    return _view(row)


# --- reading -------------------------------------------------------------------------------


async def get_session(db: AsyncSession, actor: Actor | None, session_id: str) -> SessionView:
    actor = require_actor(actor)
    return await owned(db, actor, check_session_id(session_id))


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
    found = {row.id: row for row in await repository.sessions_by_ids(db, ids)} if ids else {}
    result: list[SessionView | DomainError] = []
    for item in checked:
        if isinstance(item, DomainError):
            result.append(item)
            continue
        row = found.get(item)
        try:
            check_owner(actor, row.user_id if row is not None else None)
            assert row is not None
            result.append(_view(row))
        except DomainError as exc:
            result.append(exc)
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
    rows = await repository.sessions_page(
        db, actor.id, subject=subject, limit=limit, skip=skip, after=after
    )
    return [_view(row) for row in rows]


async def list_messages(
    db: AsyncSession, actor: Actor | None, session_id: str, *, limit: int, skip: int
) -> tuple[SessionView, list[MessageView]]:
    session = await get_session(db, actor, session_id)
    assert actor is not None
    page = await messages_of(db, actor, [session.id], limit=limit, skip=skip)
    return session, page[session.id]


async def messages_of(
    db: AsyncSession,
    actor: Actor | None,
    session_ids: Sequence[str],
    *,
    limit: int,
    skip: int = 0,
    after_id: int = 0,
) -> dict[str, list[MessageView]]:
    """One page of messages for each of several sessions (a `session.messages` batch), oldest
    first, in one statement. `after_id`: only messages after this one (keyset paging). Only
    the caller's own sessions have messages here: anyone else's page is empty."""
    actor = require_actor(actor)
    found: dict[str, list[MessageView]] = {sid: [] for sid in session_ids}
    if not session_ids:
        return found
    rows = await repository.messages_pages(
        db, actor.id, session_ids, limit=limit, skip=skip, after_id=after_id
    )
    for row in rows:
        found[row.session_id].append(MessageView.model_validate(row))
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
    rows = await repository.quiz_attempts_page(db, user_id, limit=limit, skip=skip, after=after)
    return [QuizAttemptView.model_validate(a) for a in rows]


async def get_quiz_attempts(
    db: AsyncSession, actor: Actor | None, attempt_ids: Sequence[int]
) -> list[QuizAttemptView | DomainError]:
    """Attempts by id in one statement (GraphQL `node`), with list_quiz_attempts' rule."""
    actor = require_actor(actor)
    found = {a.id: a for a in await repository.quiz_attempts_by_ids(db, attempt_ids)}
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
    rows = await repository.messages_by_ids(db, message_ids)
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
    session = await owned(db, actor, check_session_id(session_id))
    await repository.delete_session(db, session.id)
    await aggregates.session_deleted(db, session.user_id, session.subject_id)


async def rename_session(
    db: AsyncSession, actor: Actor | None, session_id: str, data: RenameInput
) -> SessionView:
    actor = require_actor(actor)
    session = await owned(db, actor, check_session_id(session_id))
    await repository.rename_session(db, session.id, data.title)
    return session.model_copy(update={"title": data.title})
