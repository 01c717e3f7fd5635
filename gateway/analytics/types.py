"""GraphQL types for the professor views: analytics of a subject and a professor's students."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import TYPE_CHECKING, Annotated

import strawberry

from gateway.analytics import service
from gateway.graphql.context import Info
from gateway.graphql.pagination import (
    MY_STUDENTS,
    STUDENT_PROGRESS,
    Connection,
    Page,
    PageInfo,
    page,
)
from gateway.graphql.relay import Node, global_id, key_of, optional_key
from gateway.policy import MAX_PROGRESS_PAGE_SIZE
from gateway.subjects.schemas import StudentView, SubjectView
from gateway.users.types import UserType

if TYPE_CHECKING:
    from gateway.subjects.types import SubjectType


@strawberry.type(
    description="One enrolled student's figures in a subject; an embedded value (no id)."
)
class StudentProgress:
    username: str
    test_count: int
    average_score: float | None = strawberry.field(description="0-100, null without attempts.")
    last_activity: dt.datetime | None

    @classmethod
    def of(cls, progress: service.Progress) -> StudentProgress:
        return cls(
            username=progress.username,
            test_count=progress.test_count,
            average_score=progress.average_score,
            last_activity=progress.last_activity,
        )


def _by_username(progress: StudentProgress) -> tuple[str]:
    return (progress.username,)


@strawberry.type
class SubjectAnalytics(Node):
    subject_code: str
    name: str
    total_students: int
    active_students: int = strawberry.field(
        description="Enrolled students with a chat session or quiz attempt in the subject "
        "within the last GATEWAY_ACTIVE_DAYS days."
    )
    average_test_score: float | None = strawberry.field(
        description="Mean quiz percentage in the subject (0-100, 1 decimal); null without attempts."
    )

    subject_view: strawberry.Private[SubjectView]

    @classmethod
    def of(cls, summary: service.Summary, subject: SubjectView) -> SubjectAnalytics:
        return cls(
            id=global_id("SubjectAnalytics", summary.subject_id),
            subject_code=summary.subject_id,
            name=summary.name,
            total_students=summary.total_students,
            active_students=summary.active_students,
            average_test_score=summary.average_test_score,
            subject_view=subject,
        )

    @strawberry.field(description="The subject these figures are about.")
    async def subject(
        self, info: Info
    ) -> Annotated[SubjectType, strawberry.lazy("gateway.subjects.types")]:
        from gateway.subjects.types import SubjectType

        return SubjectType.of(self.subject_view, info)

    @strawberry.field(description="Enrolled students by username, one page at a time.")
    async def student_progress(
        self, info: Info, first: int = service.PROGRESS_DEFAULT_PAGE, after: str | None = None
    ) -> Connection[StudentProgress]:
        request = page(info, STUDENT_PROGRESS, first, after, cap=MAX_PROGRESS_PAGE_SIZE)
        actor = await info.context.actor()
        async with info.context.read() as db:
            rows = await service.student_progress(
                db,
                actor,
                self.subject_code,
                limit=request.fetch,
                after=request.after[0] if request.after else "",
                known=self.subject_view,
            )
        nodes = [StudentProgress.of(r) for r in rows]
        return Connection.of(nodes, request, _by_username)


async def subject_analytics(info: Info, subject: SubjectView) -> SubjectAnalytics:
    """Subject.analytics and node(id:) for a SubjectAnalytics: `subject` was read in this
    request (the parent field, or the Subject lookup). One batch for all the subjects of a
    page or of a nodes(ids:) list (info.context.loaders.analytics)."""
    summary = await info.context.loaders.analytics.summaries.load(subject)
    return SubjectAnalytics.of(summary, subject)


@strawberry.type(description="A subject's figures after a quiz completed or an enrollment changed.")
class SubjectAnalyticsChange:
    analytics: SubjectAnalytics
    student: StudentProgress | None = strawberry.field(
        description="The student whose figures changed; null when not (or no longer) enrolled."
    )


@strawberry.type
class AnalyticsSubscription:
    @strawberry.subscription(
        description="A subject's analytics each time a quiz completes or an enrollment changes, "
        "from any client (its professor and admins, as for Subject.analytics)."
    )
    async def subject_analytics_changed(
        self, info: Info, subject_id: strawberry.ID
    ) -> AsyncGenerator[SubjectAnalyticsChange, None]:
        context = info.context
        gw = context.gateway
        changes = await service.watch_subject(
            gw.db,
            gw.broker,
            await context.actor(),
            key_of(subject_id, "Subject", "subjectId"),
            context.fresh_actor,
            active_days=gw.settings.active_days,
        )
        return _as_changes(changes)


async def _as_changes(
    changes: AsyncGenerator[service.Change, None],
) -> AsyncGenerator[SubjectAnalyticsChange, None]:
    async with aclosing(changes):
        async for change in changes:
            yield SubjectAnalyticsChange(
                analytics=SubjectAnalytics.of(change.summary, change.subject),
                student=None if change.student is None else StudentProgress.of(change.student),
            )


@strawberry.type
class StudentEdge:
    cursor: str
    node: UserType
    subject_codes: list[str] = strawberry.field(
        description="The student's subjects among those the viewer teaches (all for admins)."
    )


@strawberry.type(description="Students as User nodes; what depends on the viewer is on the edge.")
class StudentConnection:
    items: strawberry.Private[list[StudentView]]
    more: strawberry.Private[bool]
    request: strawberry.Private[Page]

    def _cursor(self, student: StudentView) -> str:
        return self.request.cursor((student.username,))

    @strawberry.field
    def edges(self) -> list[StudentEdge]:
        return [
            StudentEdge(
                cursor=self._cursor(s),
                node=UserType.of(s.user, subjects_loaded=False),
                subject_codes=s.enrolled_subjects,
            )
            for s in self.items
        ]

    @strawberry.field
    def page_info(self) -> PageInfo:
        return PageInfo(
            has_next_page=self.more,
            has_previous_page=self.request.after is not None,
            start_cursor=self._cursor(self.items[0]) if self.items else None,
            end_cursor=self._cursor(self.items[-1]) if self.items else None,
        )

    @strawberry.field
    def nodes(self) -> list[UserType]:
        return [UserType.of(s.user, subjects_loaded=False) for s in self.items]


@strawberry.type
class AnalyticsQuery:
    @strawberry.field(
        description="Students enrolled in your subjects (professors; admins see every student; "
        "null for others)."
    )
    async def my_students(
        self,
        info: Info,
        subject_id: strawberry.ID | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> StudentConnection | None:
        request = page(info, MY_STUDENTS, first, after)
        code = optional_key(subject_id, "Subject", "subjectId")
        actor = await info.context.actor()
        async with info.context.read() as db:
            found = await service.my_students(
                db,
                actor,
                subject_id=code,
                limit=request.fetch,
                after=request.after[0] if request.after else None,
            )
        return StudentConnection(
            items=found[: request.size], more=len(found) > request.size, request=request
        )
