"""The maintained aggregates the analytics read (migration 0004). The indexes the analytics
queries need on the sessions domain's tables are declared with those tables
(gateway/sessions/models.py)."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Uuid, false
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base, UTCDateTime


class SubjectStats(Base):
    """Per subject, maintained in the transaction of every write that changes a figure (see
    gateway/analytics/aggregates.py and docs/analytics.md). A subject without a row has zeros."""

    __tablename__ = "subject_stats"

    subject_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("subjects.id", ondelete="CASCADE"), primary_key=True
    )
    enrolled_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    attempt_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Percentages have two decimals (sessions/quiz.py): their sum in hundredths is an exact
    # integer, so increments and decrements never drift as a float sum would.
    percentage_hundredths: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class StudentStats(Base):
    """Per (subject, student) with any enrollment, attempt or chat session in the subject.
    `username` is copied (usernames never change) so a page of progress is one index range in
    username order; `last_activity_at` is the later of the two last times, indexed for the
    count of active students."""

    __tablename__ = "subject_student_stats"
    __table_args__ = (
        Index("ix_subject_student_stats_progress", "subject_id", "enrolled", "username"),
        Index("ix_subject_student_stats_active", "subject_id", "enrolled", "last_activity_at"),
        Index("ix_subject_student_stats_student", "student_id"),
    )

    subject_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("subjects.id", ondelete="CASCADE"), primary_key=True
    )
    student_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    username: Mapped[str] = mapped_column(String(50))
    enrolled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    attempt_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    percentage_hundredths: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    last_quiz_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    last_chat_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    last_activity_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
