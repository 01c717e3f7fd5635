"""GraphQL types and operations for subjects and enrollment. Resolvers only translate: the
rules are in gateway.subjects.service, the batching in gateway.subjects.loaders."""

from __future__ import annotations

import datetime as dt
import uuid

import strawberry

from gateway.analytics.types import SubjectAnalytics, subject_analytics
from gateway.graphql.context import Info
from gateway.graphql.deferred import Deferred
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
    # Plain fields: the value read by the page statement when the query selected it
    # (look-ahead), else a Deferred DataLoader load (batched across the page).
    professor: UserType | None = strawberry.field(
        description="The professor who teaches the subject, if any.",
        graphql_type=UserType | None,
    )
    student_count: int = strawberry.field(
        description="How many students are enrolled.", graphql_type=int
    )
    view: strawberry.Private[SubjectView]

    @classmethod
    def of(cls, view: SubjectView, info: Info, row: SubjectRow | None = None) -> SubjectType:
        professor: UserType | Deferred[UserType | None] | None = None
        if view.professor_id is not None:
            professor_id = view.professor_id
            if row is not None and row.professor is not None:
                professor = UserType.of(row.professor, subjects_loaded=False)
            else:
                professor = Deferred(lambda: _professor(info, professor_id))
        count: int | Deferred[int]
        if row is not None and row.student_count is not None:
            count = row.student_count
        else:
            count = Deferred(lambda: loaders.student_counts(info).load(view.id))
        return cls(
            id=strawberry.ID(view.id),
            name=view.name,
            description=view.description,
            guide=view.guide,
            created_at=view.created_at,
            professor=professor,  # type: ignore[arg-type]  # graphql-core awaits a Deferred
            student_count=count,  # type: ignore[arg-type]
            view=view,
        )

    @strawberry.field(description="Whether the viewer is enrolled in the subject.")
    async def enrolled(self, info: Info) -> bool:
        return await loaders.enrolled(info).load(self.view.id)

    @strawberry.field(description="Enrolled students by username (its professor and admins).")
    async def students(
        self, info: Info, first: int = 20, after: str | None = None
    ) -> Connection[UserType] | None:
        limit, offset = window(first, after, info.context.gateway.settings.max_page_size)
        service.require_staff(await info.context.actor(), self.view.professor_id)
        found = await loaders.students(info).load((self.view.id, limit + 1, offset))
        return Connection.of([UserType.of(u) for u in found], first=limit, offset=offset)

    @strawberry.field(description="Figures about the subject (its professor and admins).")
    async def analytics(self, info: Info) -> SubjectAnalytics | None:
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
        nodes = [SubjectType.of(r.view, info, r) for r in found]
        return Connection.of(nodes, first=limit, offset=offset)

    @strawberry.field(description="One subject by code.")
    async def subject(self, info: Info, id: str) -> SubjectType | None:
        actor = await info.context.actor()
        async with info.context.read() as db:
            return SubjectType.of(await service.get_subject_view(db, actor, id), info)

    @strawberry.field(description="The subjects the viewer is enrolled in.")
    async def enrolled_subjects(self, info: Info) -> list[SubjectType]:
        actor = await info.context.actor()
        async with info.context.read() as db:
            return [SubjectType.of(s, info) for s in await service.enrolled_subjects(db, actor)]


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
                subject=SubjectType.of(await service.create_subject(db, actor, data), info)
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
        return SubjectPayload(subject=SubjectType.of(view, info))

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
            message=f"Successfully enrolled in {view.id}", subject=SubjectType.of(view, info)
        )

    @strawberry.mutation(description="Remove the viewer's enrollment in a subject.")
    async def unenroll(self, info: Info, input: EnrollmentInput) -> EnrollmentPayload:
        actor = await info.context.actor()
        async with info.context.transaction() as db:
            view = await service.unenroll(db, actor, input.subject_id)
        return EnrollmentPayload(
            message=f"Successfully unenrolled from {view.id}", subject=SubjectType.of(view, info)
        )
