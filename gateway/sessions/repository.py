"""Every statement of the sessions domain: chat sessions, messages and quiz attempts.

Functions take the AsyncSession (or, for the chat flow, the AsyncConnection of its own short
transaction) first and return rows; the rules are in sessions.service and sessions.chat.

Hot reads (a session by id, a page of sessions, a page of messages) are module-level Core
statements with bind parameters, compiled once and executed on the session's connection: plain
columns need none of the ORM's result machinery. The chat flow is Core throughout.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Integer,
    Row,
    Select,
    Table,
    and_,
    bindparam,
    delete,
    func,
    insert,
    null,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from gateway.sessions.models import ChatSession, Message, QuizAttempt
from gateway.statements import Statement
from gateway.subjects.models import Enrollment, Subject
from gateway.users.models import User

SESSIONS = cast(Table, ChatSession.__table__)
MESSAGES = cast(Table, Message.__table__)
ATTEMPTS = cast(Table, QuizAttempt.__table__)
SUBJECTS = cast(Table, Subject.__table__)
USERS = cast(Table, User.__table__)
ENROLLMENTS = cast(Table, Enrollment.__table__)

# --- sessions: reading -----------------------------------------------------------------------

_MESSAGE_COUNT = (
    select(func.count(MESSAGES.c.id))
    .where(MESSAGES.c.session_id == SESSIONS.c.id)
    .correlate(SESSIONS)
    .scalar_subquery()
)


def _sessions() -> Select[Any]:
    """A session's columns, its owner's name and its message count (a SessionRow)."""
    return select(
        SESSIONS.c.id,
        SESSIONS.c.user_id,
        USERS.c.username,
        SESSIONS.c.subject_id,
        SESSIONS.c.title,
        SESSIONS.c.created_at,
        SESSIONS.c.last_active,
        _MESSAGE_COUNT.label("message_count"),
        SESSIONS.c.pending_question,
        SESSIONS.c.last_error,
    ).select_from(SESSIONS.join(USERS, USERS.c.id == SESSIONS.c.user_id))


SESSION_BY_ID = Statement(
    _sessions().where(SESSIONS.c.id == bindparam("session_id")),
    name="sessions.by_id",
    sample={"session_id": SESSIONS.c.id},
)
# A row of any width: the callers read columns by name.
AnyRow = Row[*tuple[Any, ...]]
SessionRow = AnyRow

SESSIONS_BY_IDS = _sessions().where(SESSIONS.c.id.in_(bindparam("session_ids", expanding=True)))


def _sessions_page(by_subject: bool, after: bool) -> Select[Any]:
    query = _sessions().where(SESSIONS.c.user_id == bindparam("user_id"))
    if by_subject:
        query = query.where(SESSIONS.c.subject_id == bindparam("subject"))
    if after:
        last_active: Any = bindparam("after_active")
        query = query.where(
            or_(
                SESSIONS.c.last_active < last_active,
                and_(SESSIONS.c.last_active == last_active, SESSIONS.c.id > bindparam("after_id")),
            )
        )
    return (
        query.order_by(SESSIONS.c.last_active.desc(), SESSIONS.c.id)
        .limit(bindparam("limit", type_=Integer))
        .offset(bindparam("skip", type_=Integer))
    )


# A user's sessions, most recently active first: one statement per (subject filter, keyset).
SESSION_PAGES = {
    (s, a): Statement(
        _sessions_page(s, a),
        name=f"sessions.page[subject={s},after={a}]",
        # Owner and subject drawn from the same rows; a keyset after every session.
        sample={
            "user_id": SESSIONS.c.user_id,
            "subject": SESSIONS.c.subject_id,
            "after_active": dt.datetime(2100, 1, 1, tzinfo=dt.UTC),
            "after_id": "",
            "limit": 50,
            "skip": 0,
        },
    )
    for s in (False, True)
    for a in (False, True)
}


async def session_by_id(db: AsyncSession, session_id: str) -> SessionRow | None:
    return await SESSION_BY_ID.one_or_none(db, session_id=session_id)


async def sessions_by_ids(db: AsyncSession, session_ids: Sequence[str]) -> Sequence[SessionRow]:
    conn = await db.connection()
    return (await conn.execute(SESSIONS_BY_IDS, {"session_ids": list(session_ids)})).all()


async def sessions_page(
    db: AsyncSession,
    user_id: uuid.UUID,
    *,
    subject: str | None,
    limit: int,
    skip: int,
    after: tuple[dt.datetime, str] | None,
) -> Sequence[SessionRow]:
    params: dict[str, Any] = {"user_id": user_id, "limit": limit, "skip": skip}
    if subject:
        params["subject"] = subject
    if after is not None:
        params["after_active"], params["after_id"] = after
    statement = SESSION_PAGES[(bool(subject), after is not None)]
    return await statement.all(db, **params)


# --- messages: reading -----------------------------------------------------------------------


def _messages_pages(sessions: ColumnElement[bool]) -> Select[Any]:
    """One page of messages for each session `sessions` picks, oldest first, in ONE statement:
    a window function numbers each session's messages."""
    ranked = (
        select(
            MESSAGES,
            func.row_number()
            .over(partition_by=MESSAGES.c.session_id, order_by=MESSAGES.c.id)
            .label("rn"),
        )
        .where(
            # Only sessions of the owner given: the caller of a loader path sees nobody else's.
            MESSAGES.c.session_id.in_(
                select(SESSIONS.c.id).where(sessions, SESSIONS.c.user_id == bindparam("owner_id"))
            ),
            MESSAGES.c.id > bindparam("after_id"),
        )
        .subquery()
    )
    return (
        select(
            ranked.c.id,
            ranked.c.session_id,
            ranked.c.role,
            ranked.c.content,
            ranked.c.status,
            ranked.c.created_at,
        )
        .where(ranked.c.rn > bindparam("skip"), ranked.c.rn <= bindparam("last"))
        .order_by(ranked.c.session_id, ranked.c.id)
    )


MESSAGES_PAGES = _messages_pages(SESSIONS.c.id.in_(bindparam("session_ids", expanding=True)))
# One session's page (REST's messages page, a lone `session.messages`): on the statement
# runner, which takes no list parameters.
MESSAGES_PAGE = Statement(
    _messages_pages(SESSIONS.c.id == bindparam("session_id")),
    name="sessions.messages_page",
    sample={
        "session_id": SESSIONS.c.id,
        "owner_id": SESSIONS.c.user_id,
        "after_id": 0,
        "skip": 0,
        "last": 50,
    },
)


async def messages_pages(
    db: AsyncSession,
    owner_id: uuid.UUID,
    session_ids: Sequence[str],
    *,
    limit: int,
    skip: int,
    after_id: int,
) -> Sequence[AnyRow]:
    params: dict[str, Any] = {
        "owner_id": owner_id,
        "after_id": after_id,
        "skip": skip,
        "last": skip + limit,
    }
    if len(session_ids) == 1:
        return await MESSAGES_PAGE.all(db, session_id=session_ids[0], **params)
    conn = await db.connection()
    params["session_ids"] = list(session_ids)
    return (await conn.execute(MESSAGES_PAGES, params)).all()


async def messages_by_ids(db: AsyncSession, message_ids: Sequence[int]) -> Sequence[AnyRow]:
    """(Message, owner id) per message found."""
    rows = await db.execute(
        select(Message, ChatSession.user_id)
        .join(ChatSession, ChatSession.id == Message.session_id)
        .where(Message.id.in_(set(message_ids)))
    )
    return rows.all()


# --- quiz attempts: reading ------------------------------------------------------------------


async def quiz_attempts_page(
    db: AsyncSession,
    user_id: uuid.UUID,
    *,
    limit: int,
    skip: int,
    after: tuple[dt.datetime, int] | None,
) -> Sequence[QuizAttempt]:
    """A user's attempts, newest first; `after`: (created_at, id) of the last one seen."""
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
    return rows.all()


async def quiz_attempts_by_ids(
    db: AsyncSession, attempt_ids: Sequence[int]
) -> Sequence[QuizAttempt]:
    rows = await db.scalars(select(QuizAttempt).where(QuizAttempt.id.in_(set(attempt_ids))))
    return rows.all()


# --- sessions: changing ----------------------------------------------------------------------


async def delete_session(db: AsyncSession, session_id: str) -> None:
    """Messages go with the session (ON DELETE CASCADE); quiz attempts stay, session_id NULL."""
    await db.execute(delete(ChatSession).where(ChatSession.id == session_id))


async def rename_session(db: AsyncSession, session_id: str, title: str) -> None:
    await db.execute(update(ChatSession).where(ChatSession.id == session_id).values(title=title))


# --- the chat flow (Core on the chat step's own connection) ----------------------------------

# The caller's row and the subject's access facts, in one statement.
CALLER_WITH_SUBJECT = (
    select(
        USERS.c.username,
        USERS.c.role,
        SUBJECTS.c.id,
        SUBJECTS.c.professor_id,
        select(ENROLLMENTS.c.subject_id)
        .where(
            ENROLLMENTS.c.student_id == bindparam("user_id"),
            ENROLLMENTS.c.subject_id == bindparam("subject_id"),
        )
        .exists(),
    )
    .select_from(USERS)
    .outerjoin(SUBJECTS, SUBJECTS.c.id == bindparam("subject_id"))
    .where(USERS.c.id == bindparam("user_id"))
)


async def caller_with_subject(
    conn: AsyncConnection, user_id: uuid.UUID, subject_id: str
) -> AnyRow | None:
    """(username, role, subject id or None, professor id, enrolled) or None: no such user."""
    params = {"user_id": user_id, "subject_id": subject_id}
    return (await conn.execute(CALLER_WITH_SUBJECT, params)).one_or_none()


# The caller's row and a session's owner, in one statement (a subscription's per-event check).
CALLER_WITH_SESSION_OWNER = (
    select(USERS.c.username, USERS.c.role, SESSIONS.c.user_id.label("owner_id"))
    .select_from(USERS)
    .outerjoin(SESSIONS, SESSIONS.c.id == bindparam("session_id"))
    .where(USERS.c.id == bindparam("user_id"))
)


async def caller_with_session_owner(
    db: AsyncSession, user_id: uuid.UUID, session_id: str
) -> AnyRow | None:
    """(username, role, owner id or None) or None: no such user."""
    conn = await db.connection()
    params = {"user_id": user_id, "session_id": session_id}
    return (await conn.execute(CALLER_WITH_SESSION_OWNER, params)).one_or_none()


async def touch_or_create_session(
    conn: AsyncConnection,
    *,
    session_id: str,
    user_id: uuid.UUID,
    subject_id: str,
    title: str,
    now: dt.datetime,
) -> tuple[uuid.UUID, str]:
    """Race-free auto-creation in one round trip: create the session or bump last_active,
    and return its owner and subject (the caller refuses, and so rolls back, a stranger)."""
    module = postgresql if conn.dialect.name == "postgresql" else sqlite
    upsert = module.insert(SESSIONS).values(
        id=session_id,
        user_id=user_id,
        subject_id=subject_id,
        title=title,
        created_at=now,
        last_active=now,
    )
    row = (
        await conn.execute(
            upsert.on_conflict_do_update(
                index_elements=["id"], set_={"last_active": now}
            ).returning(SESSIONS.c.user_id, SESSIONS.c.subject_id)
        )
    ).one()
    return row[0], row[1]


async def insert_message(
    conn: AsyncConnection,
    *,
    session_id: str,
    role: str,
    content: str,
    status: str,
    now: dt.datetime,
) -> int:
    values = {
        "session_id": session_id,
        "role": role,
        "content": content,
        "status": status,
        "created_at": now,
    }
    row = (await conn.execute(insert(MESSAGES).values(**values).returning(MESSAGES.c.id))).one()
    return int(row[0])


def _same_session(owner_id: uuid.UUID, session_id: str, message_id: int) -> ColumnElement[bool]:
    """The session message `message_id` was stored in, still owned by `owner_id`: not a
    namesake created after a delete (its messages went with it; message ids are never reused)."""
    still_there = (
        select(MESSAGES.c.id)
        .where(MESSAGES.c.id == message_id, MESSAGES.c.session_id == session_id)
        .exists()
    )
    return (SESSIONS.c.id == session_id) & (SESSIONS.c.user_id == owner_id) & still_there


def _pending_index() -> ColumnElement[int]:
    """The pending question's number; NULL when no question is pending (SQL or JSON null)."""
    return SESSIONS.c.pending_question["question_num"].as_integer()


async def store_reply_on_session(
    conn: AsyncConnection,
    *,
    owner_id: uuid.UUID,
    session_id: str,
    message_id: int,
    pending: dict[str, Any] | None,
    now: dt.datetime,
) -> AnyRow | None:
    """Set the pending question, clear the error and bump the session the message was stored
    in, if still the owner's. Returns (subject_id, title, created_at, last_active, message
    count before this reply) or None."""
    count = (
        select(func.count(MESSAGES.c.id))
        .where(MESSAGES.c.session_id == session_id)  # a bind: SQLite's RETURNING drops qualifiers
        .scalar_subquery()
    )
    found = await conn.execute(
        update(SESSIONS)
        .where(_same_session(owner_id, session_id, message_id))
        .values(pending_question=pending, last_error=None, last_active=now)
        .returning(
            SESSIONS.c.subject_id,
            SESSIONS.c.title,
            SESSIONS.c.created_at,
            SESSIONS.c.last_active,
            count,
        )
    )
    return found.one_or_none()


async def insert_quiz_attempt(conn: AsyncConnection, values: dict[str, Any]) -> int:
    attempt_id = await conn.scalar(insert(ATTEMPTS).values(**values).returning(ATTEMPTS.c.id))
    return int(cast(int, attempt_id))


async def set_message_status(conn: AsyncConnection, message_id: int, status: str) -> None:
    await conn.execute(update(MESSAGES).where(MESSAGES.c.id == message_id).values(status=status))


async def set_last_error(
    conn: AsyncConnection, *, owner_id: uuid.UUID, session_id: str, message_id: int, detail: str
) -> bool:
    """Say why the reply failed on the message's session; False when that session is gone."""
    result = await conn.execute(
        update(SESSIONS)
        .where(_same_session(owner_id, session_id, message_id))
        .values(last_error=detail)
    )
    return result.rowcount == 1


async def fail_message(conn: AsyncConnection, message_id: int) -> None:
    """A user message still waiting ("sent") becomes "failed"."""
    await conn.execute(
        update(MESSAGES)
        .where(MESSAGES.c.id == message_id, MESSAGES.c.status == "sent")
        .values(status="failed")
    )


async def restore_pending_question(
    conn: AsyncConnection,
    *,
    owner_id: uuid.UUID,
    session_id: str,
    message_id: int,
    question: dict[str, Any],
) -> None:
    """Put the claimed question back, unless a newer question is pending meanwhile."""
    await conn.execute(
        update(SESSIONS)
        .where(_same_session(owner_id, session_id, message_id), _pending_index().is_(None))
        .values(pending_question=question)
    )


async def pending_question_of(conn: AsyncConnection, session_id: str) -> AnyRow | None:
    """(owner id, subject id, pending question) or None."""
    found = await conn.execute(
        select(SESSIONS.c.user_id, SESSIONS.c.subject_id, SESSIONS.c.pending_question).where(
            SESSIONS.c.id == session_id
        )
    )
    return found.one_or_none()


async def claim_question(
    conn: AsyncConnection, *, session_id: str, owner_id: uuid.UUID, index: int, now: dt.datetime
) -> bool:
    """Clear the pending question if it is still number `index`: atomic on both engines (SQLite
    has no FOR UPDATE), so of several concurrent answers exactly one sees a row."""
    claimed = await conn.execute(
        update(SESSIONS)
        .where(
            SESSIONS.c.id == session_id,
            SESSIONS.c.user_id == owner_id,
            _pending_index() == index,
        )
        .values(pending_question=null(), last_active=now)
    )
    return claimed.rowcount == 1


async def fail_stranded_messages(conn: AsyncConnection, *, cutoff: dt.datetime, why: str) -> int:
    """User messages still "sent" since before `cutoff` become "failed"; where such a message
    is its session's latest, the session's last_error becomes `why`. Returns how many."""
    stranded = and_(
        MESSAGES.c.status == "sent", MESSAGES.c.role == "user", MESSAGES.c.created_at < cutoff
    )
    later = MESSAGES.alias("later")
    superseded = (
        select(later.c.id)
        .where(later.c.session_id == MESSAGES.c.session_id, later.c.id > MESSAGES.c.id)
        .exists()
    )
    await conn.execute(
        update(SESSIONS)
        .where(SESSIONS.c.id.in_(select(MESSAGES.c.session_id).where(stranded, ~superseded)))
        .values(last_error=why)
    )
    marked = await conn.execute(update(MESSAGES).where(stranded).values(status="failed"))
    return marked.rowcount
