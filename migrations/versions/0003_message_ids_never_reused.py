"""message ids are never reused (AUTOINCREMENT on SQLite); an index of messages still "sent"

Without AUTOINCREMENT, SQLite gives a new row max(rowid) + 1, so the id of the newest message
comes back after its session is deleted, and a write aimed at the old message (a failed chat's
status) could land on someone else's. PostgreSQL's sequence never hands an id out twice: there
only the index is created. The partial index serves the start-up sweep of stranded messages.

Revision ID: 0003_message_ids
Revises: 0002_analytics
Create Date: 2026-11-30 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_message_ids"
down_revision: str | None = "0002_analytics"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _recreate(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    # Batch mode copies the table (rows, indexes, constraints) into one created with the new
    # option; SQLite seeds sqlite_sequence from the largest id copied.
    with op.batch_alter_table(
        "messages", recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
    ):
        pass


SENT = sa.text("status = 'sent'")


def upgrade() -> None:
    _recreate(True)
    op.create_index(
        "ix_messages_sent_created_at",
        "messages",
        ["created_at"],
        sqlite_where=SENT,
        postgresql_where=SENT,
    )


def downgrade() -> None:
    op.drop_index("ix_messages_sent_created_at", table_name="messages")
    _recreate(False)
