"""maintained analytics aggregates: per subject and per (subject, student), backfilled

The analytics and the subjects page read these instead of rescanning enrollments, quiz attempts
and chat sessions (docs/analytics.md). The backfill computes them from the existing rows in two
set-based statements; percentages are summed in hundredths (exact integers).

Revision ID: 0004_aggregates
Revises: 0003_message_ids
Create Date: 2026-11-30 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from gateway.db import UTCDateTime

revision: str = "0004_aggregates"
down_revision: str | None = "0003_message_ids"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The pairs with an enrollment, an attempt or a session, and their figures.
BACKFILL_STUDENTS = """
INSERT INTO subject_student_stats (subject_id, student_id, username, enrolled, attempt_count,
    percentage_hundredths, last_quiz_at, last_chat_at, last_activity_at)
SELECT p.subject_id, p.user_id, u.username,
    EXISTS (SELECT 1 FROM enrollments e
            WHERE e.subject_id = p.subject_id AND e.student_id = p.user_id),
    COALESCE(a.n, 0), COALESCE(a.points, 0), a.last_at, c.last_at,
    CASE WHEN a.last_at IS NULL THEN c.last_at
         WHEN c.last_at IS NULL THEN a.last_at
         WHEN a.last_at > c.last_at THEN a.last_at ELSE c.last_at END
FROM (SELECT subject_id, student_id AS user_id FROM enrollments
      UNION SELECT subject_id, user_id FROM quiz_attempts
      UNION SELECT subject_id, user_id FROM chat_sessions) AS p
JOIN users AS u ON u.id = p.user_id
LEFT JOIN (SELECT subject_id, user_id, COUNT(*) AS n,
                  SUM(CAST(ROUND(percentage * 100) AS BIGINT)) AS points,
                  MAX(created_at) AS last_at
           FROM quiz_attempts GROUP BY subject_id, user_id) AS a
    ON a.subject_id = p.subject_id AND a.user_id = p.user_id
LEFT JOIN (SELECT subject_id, user_id, MAX(last_active) AS last_at
           FROM chat_sessions GROUP BY subject_id, user_id) AS c
    ON c.subject_id = p.subject_id AND c.user_id = p.user_id
"""

BACKFILL_SUBJECTS = """
INSERT INTO subject_stats (subject_id, enrolled_count, attempt_count, percentage_hundredths)
SELECT subject_id, SUM(CASE WHEN enrolled THEN 1 ELSE 0 END), SUM(attempt_count),
       SUM(percentage_hundredths)
FROM subject_student_stats GROUP BY subject_id
"""


def upgrade() -> None:
    op.create_table(
        "subject_stats",
        sa.Column("subject_id", sa.String(length=32), nullable=False),
        sa.Column("enrolled_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("attempt_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("percentage_hundredths", sa.BigInteger(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["subjects.id"],
            name=op.f("fk_subject_stats_subject_id_subjects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("subject_id", name=op.f("pk_subject_stats")),
    )
    op.create_table(
        "subject_student_stats",
        sa.Column("subject_id", sa.String(length=32), nullable=False),
        sa.Column("student_id", sa.Uuid(), nullable=False),
        sa.Column("username", sa.String(length=50), nullable=False),
        sa.Column("enrolled", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("attempt_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("percentage_hundredths", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("last_quiz_at", UTCDateTime(), nullable=True),
        sa.Column("last_chat_at", UTCDateTime(), nullable=True),
        sa.Column("last_activity_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["student_id"],
            ["users.id"],
            name=op.f("fk_subject_student_stats_student_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["subjects.id"],
            name=op.f("fk_subject_student_stats_subject_id_subjects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("subject_id", "student_id", name=op.f("pk_subject_student_stats")),
    )
    op.create_index(
        "ix_subject_student_stats_progress",
        "subject_student_stats",
        ["subject_id", "enrolled", "username"],
    )
    op.create_index(
        "ix_subject_student_stats_active",
        "subject_student_stats",
        ["subject_id", "enrolled", "last_activity_at"],
    )
    op.create_index(
        "ix_subject_student_stats_student", "subject_student_stats", ["student_id"]
    )
    op.execute(BACKFILL_STUDENTS)
    op.execute(BACKFILL_SUBJECTS)


def downgrade() -> None:
    op.drop_table("subject_student_stats")
    op.drop_table("subject_stats")
