from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, Text, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base, BigIntPK, UTCDateTime, utcnow


class ChatSession(Base):
    __tablename__ = "chat_sessions"
    __table_args__ = (Index("ix_chat_sessions_user_last_active", "user_id", "last_active"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"))
    subject_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("subjects.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_active: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The question the tutor is waiting on (the upstream's interrupt_info), if any.
    pending_question: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    # Why the last tutor reply failed (503/504/502 detail); cleared by the next success.
    last_error: Mapped[str | None] = mapped_column(String(500), default=None)


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_session_id_id", "session_id", "id"),
        # Messages still awaiting the tutor: the start-up sweep of stranded ones reads only these.
        Index(
            "ix_messages_sent_created_at",
            "created_at",
            sqlite_where=text("status = 'sent'"),
            postgresql_where=text("status = 'sent'"),
        ),
        CheckConstraint("role IN ('user', 'assistant')", name="role"),
        # Ids are never reused (SQLite otherwise reuses the highest after a delete): a write
        # aimed at a message by id must never reach a newer one (migration 0003).
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("chat_sessions.id", ondelete="CASCADE")
    )
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text)
    # user messages: "sent" -> "answered" | "failed"; assistant messages: "ok"
    status: Mapped[str] = mapped_column(String(16), default="ok")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class QuizAttempt(Base):
    __tablename__ = "quiz_attempts"
    __table_args__ = (
        Index("ix_quiz_attempts_subject_user", "subject_id", "user_id"),
        CheckConstraint("total > 0 AND correct >= 0 AND correct <= total", name="score"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    subject_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("subjects.id", ondelete="CASCADE")
    )
    session_id: Mapped[str | None] = mapped_column(
        String(64), ForeignKey("chat_sessions.id", ondelete="SET NULL"), index=True
    )
    correct: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(Integer)
    percentage: Mapped[float] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


# Indexes for the professors' analytics views (migration 0002 creates them), index-only on
# PostgreSQL: quiz attempts of a subject since a date (active students), and chat sessions of a
# subject active since a date.
QUIZ_ATTEMPTS_BY_SUBJECT_TIME = Index(
    "ix_quiz_attempts_subject_created",
    QuizAttempt.subject_id,
    QuizAttempt.created_at,
    postgresql_include=["user_id", "percentage"],
)
CHAT_SESSIONS_BY_SUBJECT_TIME = Index(
    "ix_chat_sessions_subject_last_active",
    ChatSession.subject_id,
    ChatSession.last_active,
    postgresql_include=["user_id"],
)
