"""GraphQL types for the professor views: analytics of a subject and a professor's students."""

from __future__ import annotations

import datetime as dt

import strawberry

from gateway.analytics import service
from gateway.graphql.context import Info
from gateway.graphql.pagination import Connection, window
from gateway.subjects.schemas import StudentView, SubjectView


@strawberry.type
class StudentProgress:
    username: str
    test_count: int
    average_score: float | None = strawberry.field(description="0-100, null without attempts.")
    last_activity: dt.datetime | None


@strawberry.type
class SubjectAnalytics:
    subject_id: str
    name: str
    total_students: int
    active_students: int = strawberry.field(
        description="Enrolled students with a chat session or quiz attempt in the subject "
        "within the last GATEWAY_ACTIVE_DAYS days."
    )
    average_test_score: float | None = strawberry.field(
        description="Mean quiz percentage in the subject (0-100, 1 decimal); null without attempts."
    )

    subject: strawberry.Private[SubjectView]

    @classmethod
    def of(cls, summary: service.Summary, subject: SubjectView) -> SubjectAnalytics:
        return cls(
            subject_id=summary.subject_id,
            name=summary.name,
            total_students=summary.total_students,
            active_students=summary.active_students,
            average_test_score=summary.average_test_score,
            subject=subject,
        )

    @strawberry.field(description="Enrolled students by username, one page at a time.")
    async def student_progress(
        self, info: Info, first: int = service.PROGRESS_DEFAULT_PAGE, after: str | None = None
    ) -> Connection[StudentProgress]:
        limit, offset = window(first, after, service.PROGRESS_MAX_PAGE)
        actor = await info.context.actor()
        async with info.context.read() as db:
            rows = await service.student_progress(
                db, actor, self.subject_id, limit=limit + 1, skip=offset, known=self.subject
            )
        nodes = [
            StudentProgress(
                username=r.username,
                test_count=r.test_count,
                average_score=r.average_score,
                last_activity=r.last_activity,
            )
            for r in rows
        ]
        return Connection.of(nodes, first=limit, offset=offset)


async def subject_analytics(info: Info, subject: SubjectView) -> SubjectAnalytics:
    """Subject.analytics: `subject` was read by the parent field in this request."""
    actor = await info.context.actor()
    async with info.context.read() as db:
        summary = await service.summary(
            db,
            actor,
            subject.id,
            active_days=info.context.gateway.settings.active_days,
            known=subject,
        )
    return SubjectAnalytics.of(summary, subject)


@strawberry.type
class Student:
    username: str
    full_name: str
    email: str
    enrolled_subjects: list[str] = strawberry.field(
        description="The student's subjects among those the viewer teaches (all for admins)."
    )

    @classmethod
    def of(cls, view: StudentView) -> Student:
        return cls(
            username=view.username,
            full_name=view.full_name,
            email=view.email,
            enrolled_subjects=view.enrolled_subjects,
        )


@strawberry.type
class AnalyticsQuery:
    @strawberry.field(
        description="Students enrolled in your subjects (professors; admins see every student)."
    )
    async def my_students(
        self,
        info: Info,
        subject_id: str | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> Connection[Student] | None:
        limit, offset = window(first, after, info.context.gateway.settings.max_page_size)
        actor = await info.context.actor()
        async with info.context.read() as db:
            found = await service.my_students(
                db, actor, subject_id=subject_id, limit=limit + 1, skip=offset
            )
        return Connection.of([Student.of(s) for s in found], first=limit, offset=offset)
