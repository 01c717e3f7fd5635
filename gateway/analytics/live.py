"""Announcing analytics changes to live subscribers (`subjectAnalyticsChanged`), after commit.

An event names the subject and the student whose figures changed; subscribers re-read the
figures themselves (with their own, re-checked, authorization), so an event carries no data a
subscriber could not read anyway. Events go through the broker: with Redis, to every process.

Enrollment changes run in the request's ORM session, whose commit the request scope owns: they
are queued on the session and published by its after_commit hook (a rolled-back change is
never announced). The session finds the broker in its `info`, put there by the composition
root (gateway/runtime.py); sessions without one (CLI, tools) announce nothing."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Session

from gateway.adapters.broker import Broker

log = logging.getLogger("gateway.analytics")
BROKER = "analytics.broker"  # key of the broker in a session's info
_PENDING = "analytics.pending"
_tasks: set[asyncio.Task[None]] = set()  # publishes in flight (a task needs a reference)


def channel(subject_id: str) -> str:
    return f"analytics:{subject_id}"


async def publish(broker: Broker, subject_id: str, student_id: uuid.UUID | str) -> None:
    """Never raises (the broker logs its failures): the write has committed already."""
    await broker.publish(
        channel(subject_id), {"subject_id": subject_id, "student": str(student_id)}
    )


def announce(db: AsyncSession | AsyncConnection, subject_id: str, student_id: uuid.UUID) -> None:
    """Publish the change when `db`'s transaction commits."""
    if not isinstance(db, AsyncSession) or db.info.get(BROKER) is None:
        return
    pending: list[tuple[str, uuid.UUID]] | None = db.info.get(_PENDING)
    if pending is None:
        pending = db.info[_PENDING] = []
        sync = db.sync_session
        event.listen(sync, "after_commit", _after_commit)
        event.listen(sync, "after_rollback", _after_rollback)
    pending.append((subject_id, student_id))


def _after_commit(session: Session) -> None:
    broker: Broker = session.info[BROKER]
    pending: list[tuple[str, uuid.UUID]] = session.info.pop(_PENDING, [])
    if not pending:
        return
    task = asyncio.get_running_loop().create_task(_publish_all(broker, pending))
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


async def _publish_all(broker: Broker, pending: list[tuple[str, Any]]) -> None:
    for subject_id, student_id in dict.fromkeys(pending):
        await publish(broker, subject_id, student_id)
