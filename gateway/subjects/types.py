"""GraphQL types and operations for subjects and enrollment. Resolvers only translate: the
rules are in gateway.subjects.service, the batching in gateway.subjects.loaders."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable

import strawberry

from gateway.analytics.types import SubjectAnalytics, subject_analytics
from gateway.graphql.context import Info
from gateway.graphql.lookahead import node_fields
from gateway.graphql.pagination import Connection, window
from gateway.subjects import loaders, service
from gateway.subjects.schemas import SubjectCreate, SubjectUpdate, SubjectView
from gateway.subjects.service import SubjectRow
from gateway.users.types import UserType


async def _professor(info: Info, professor_id: uuid.UUID) -> UserType | None:
    user = await loaders.users(info).load(professor_id)
    return UserType.of(user, subjects_loaded=False) if user else None


@strawberry.type(name="Subject")
class SubjectType:
    id: strawberry.ID = strawberry.field(description="The subject's code, e.g. INF001.")
    name: str
    description: str
    guide: str
    created_at: dt.datetime
    view: strawberry.Private[SubjectView]
    # Read by the list statement when the query selects them (look-ahead); else None and
    # the field resolves through its DataLoader.
    row: strawberry.Private[SubjectRow | None] = None

    @classmethod
    def of(cls, view: SubjectView, row: SubjectRow | None = None) -> SubjectType:
        return cls(
            id=strawberry.ID(view.id),
            name=view.name,
            description=view.description,
            guide=view.guide,
            created_at=view.created_at,
            view=view,
            row=row,
        )

    # Plain (not async) resolvers: with the look-ahead rows they return the value at once, so
    # graphql-core completes 2 x 20 fields without a coroutine each; otherwise they return the
    # DataLoader's awaitable, which graphql-core awaits.
    @strawberry.field(
        description="The professor who teaches the subject, if any.",
        graphql_type=UserType | None,
    )
    def professor(self, info: Info) -> UserType | Awaitable[UserType | None] | None:
        if self.view.professor_id is None:
            return None
        if self.row is not None and self.row.professor is not None:
            return UserType.of(self.row.professor, subjects_loaded=False)
        return _professor(info, self.view.professor_id)

    @strawberry.field(description="How many students are enrolled.", graphql_type=int)
    def student_count(self, info: Info) -> int | Awaitable[int]:
        if self.row is not None and self.row.student_count is not None:
            return self.row.student_count
        return loaders.student_counts(info).load(self.view.id)

    @strawberry.field(description="Whether the viewer is enrolled in the subject.")
    async def enrolled(self, info: Info) -> bool:
        return await loaders.enrolled(info).load(self.view.id)

    @strawberry.field(description="Enrolled students by username (its professor and admins).")
    async def students(
        self, info: Info, first: int = 20, after: str | None = None
    ) -> Connection[UserType]:
        limit, offset = window(first, after, info.context.gateway.settings.max_page_size)
        service.require_staff(await info.context.actor(), self.view.professor_id)
        found = await loaders.students(info).load((self.view.id, limit + 1, offset))
        return Connection.of([UserType.of(u) for u in found], first=limit, offset=offset)

    @strawberry.field(description="Figures about the subject (its professor and admins).")
    async def analytics(self, info: Info) -> SubjectAnalytics:
        return await subject_analytics(info, self.view)


@strawberry.input
class CreateSubjectInput:
    id: str
    name: str
    description: str = ""
    guide: str = ""
    professor: str | None = strawberry.field(default=None, description="A username.")


@strawberry.input
class UpdateSubjectInput:
    id: str
    name: str | None = None
    description: str | None = None
    guide: str | None = None
    professor: str | None = strawberry.field(
        default=None, description="Reassign to this professor (admins only)."
    )


@strawberry.input
class DeleteSubjectInput:
    id: str


@strawberry.input
class EnrollmentInput:
    subject_id: str


@strawberry.type
class SubjectPayload:
    subject: SubjectType


@strawberry.type
class DeleteSubjectPayload:
    id: str
    deleted: bool


@strawberry.type
class EnrollmentPayload:
    message: str
    subject: SubjectType


@strawberry.type
class SubjectsQuery:
    @strawberry.field(description="The subject catalogue by code; search matches the name.")
    async def subjects(
        self,
        info: Info,
        first: int = 20,
        after: str | None = None,
        professor: str | None = None,
        search: str | None = None,
    ) -> Connection[SubjectType]:
        limit, offset = window(first, after, info.context.gateway.settings.max_page_size)
        wanted = node_fields(info)
        actor = await info.context.actor()
        async with info.context.read() as db:
            found = await service.list_subject_rows(
                db,
                actor,
                professor=professor,
                search=search,
                limit=limit + 1,
                skip=offset,
                with_professor="professor" in wanted,
                with_count="studentCount" in wanted,
            )
        nodes = [SubjectType.of(r.view, r) for r in found]
        return Connection.of(nodes, first=limit, offset=offset)

    @strawberry.field(description="One subject by code.")
    async def subject(self, info: Info, id: str) -> SubjectType:
        actor = await info.context.actor()
        async with info.context.read() as db:
            return SubjectType.of(await service.get_subject_view(db, actor, id))

    @strawberry.field(description="The subjects the viewer is enrolled in.")
    async def enrolled_subjects(self, info: Info) -> list[SubjectType]:
        actor = await info.context.actor()
        async with info.context.read() as db:
            return [SubjectType.of(s) for s in await service.enrolled_subjects(db, actor)]


@strawberry.type
class SubjectsMutation:
    @strawberry.mutation(description="Create a subject (admins only).")
    async def create_subject(self, info: Info, input: CreateSubjectInput) -> SubjectPayload:
        data = SubjectCreate.model_validate(
            {
                "subject_id": input.id,
                "name": input.name,
                "description": input.description,
                "guide": input.guide,
                "professor_id": input.professor,
            }
        )
        actor = await info.context.actor()
        async with info.context.transaction() as db:
            return SubjectPayload(
                subject=SubjectType.of(await service.create_subject(db, actor, data))
            )

    @strawberry.mutation(description="Edit a subject (admins, or its own professor).")
    async def update_subject(self, info: Info, input: UpdateSubjectInput) -> SubjectPayload:
        changes = SubjectUpdate.model_validate(
            {
                "name": input.name,
                "description": input.description,
                "guide": input.guide,
                "professor_id": input.professor,
            }
        )
        actor = await info.context.actor()
        async with info.context.transaction() as db:
            view = await service.update_subject(db, actor, input.id, changes)
        return SubjectPayload(subject=SubjectType.of(view))

    @strawberry.mutation(
        description="Delete a subject with its enrollments, chat sessions and quiz attempts "
        "(admins only)."
    )
    async def delete_subject(self, info: Info, input: DeleteSubjectInput) -> DeleteSubjectPayload:
        actor = await info.context.actor()
        async with info.context.transaction() as db:
            await service.delete_subject(db, actor, input.id)
        return DeleteSubjectPayload(id=input.id, deleted=True)

    @strawberry.mutation(description="Enroll the viewer (a student) in a subject.")
    async def enroll(self, info: Info, input: EnrollmentInput) -> EnrollmentPayload:
        actor = await info.context.actor()
        async with info.context.transaction() as db:
            view = await service.enroll(db, actor, input.subject_id)
        return EnrollmentPayload(
            message=f"Successfully enrolled in {view.id}", subject=SubjectType.of(view)
        )

    @strawberry.mutation(description="Remove the viewer's enrollment in a subject.")
    async def unenroll(self, info: Info, input: EnrollmentInput) -> EnrollmentPayload:
        actor = await info.context.actor()
        async with info.context.transaction() as db:
            view = await service.unenroll(db, actor, input.subject_id)
        return EnrollmentPayload(
            message=f"Successfully unenrolled from {view.id}", subject=SubjectType.of(view)
        )
