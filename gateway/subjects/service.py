"""Every rule about subjects and enrollment."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.auth.actor import Actor, require_actor
from gateway.errors import Forbidden, NotFound
from gateway.subjects.models import Enrollment, Subject
from gateway.users.models import Role


async def get_subject(db: AsyncSession, subject_id: str) -> Subject:
    subject = await db.get(Subject, subject_id)
    if subject is None:
        raise NotFound("Subject not found")
    return subject


async def require_chat_access(db: AsyncSession, actor: Actor | None, subject_id: str) -> Subject:
    """Who may talk to the tutor about a subject: its enrolled students, its professor, admins."""
    actor = require_actor(actor)
    subject = await get_subject(db, subject_id)
    if actor.role is Role.ADMIN or subject.professor_id == actor.id:
        return subject
    if actor.role is Role.STUDENT:
        enrolled = await db.scalar(
            select(Enrollment.subject_id).where(
                Enrollment.student_id == actor.id, Enrollment.subject_id == subject_id
            )
        )
        if enrolled is not None:
            return subject
    raise Forbidden("Not enrolled in subject")
