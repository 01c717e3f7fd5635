"""Indexes the analytics queries need, declared on the tables they serve (the tables belong to
the sessions domain; these only exist for the professor views). Migration 0002 creates them.

- quiz attempts of a subject since a date (active students), index-only on PostgreSQL;
- chat sessions of a subject active since a date, index-only on PostgreSQL."""

from __future__ import annotations

from sqlalchemy import Index

from gateway.sessions.models import ChatSession, QuizAttempt

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
