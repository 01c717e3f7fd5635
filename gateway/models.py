"""Every ORM model, imported in one place for Alembic and for metadata-wide operations."""

from gateway.analytics.models import StudentStats, SubjectStats
from gateway.db import Base
from gateway.sessions.models import ChatSession, Message, QuizAttempt
from gateway.subjects.models import Enrollment, Subject
from gateway.users.models import User

__all__ = [
    "Base",
    "ChatSession",
    "Enrollment",
    "Message",
    "QuizAttempt",
    "StudentStats",
    "Subject",
    "SubjectStats",
    "User",
]
