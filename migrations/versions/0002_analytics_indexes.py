"""analytics indexes: attempts and sessions of a subject by time

Revision ID: 0002_analytics
Revises: 0001
Create Date: 2026-11-27 01:20:00
"""

from collections.abc import Sequence

from alembic import op


revision: str = "0002_analytics"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("quiz_attempts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_quiz_attempts_subject_created",
            ["subject_id", "created_at"],
            unique=False,
            postgresql_include=["user_id", "percentage"],
        )
    with op.batch_alter_table("chat_sessions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_chat_sessions_subject_last_active",
            ["subject_id", "last_active"],
            unique=False,
            postgresql_include=["user_id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("chat_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_chat_sessions_subject_last_active")
    with op.batch_alter_table("quiz_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_quiz_attempts_subject_created")
