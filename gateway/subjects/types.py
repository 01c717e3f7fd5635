"""GraphQL types and operations for subjects and enrollment. Resolvers only translate: the
rules are in gateway.subjects.service, the batching in gateway.subjects.loaders (reached as
`info.context.loaders.subjects`)."""

from __future__ import annotations

import datetime as dt
import uuid

import strawberry

from gateway.analytics.types import SubjectAnalytics, subject_analytics
from gateway.graphql.context import Info
from gateway.graphql.deferred import Deferred
from gateway.graphql.lookahead import node_fields
from gateway.graphql.pagination import STUDENTS, SUBJECTS, Connection, page
from gateway.graphql.relay import Node, global_id, key_of, user_ref
from gateway.subjects import service
from gateway.subjects.schemas import SubjectCreate, SubjectRow, SubjectUpdate, SubjectView
from gateway.subjects.service import StudentsPage
from gateway.users.types import UserType


async def _professor(info: Info, professor_id: uuid.UUID) -> UserType | None:
    user = await info.context.loaders.users.briefs.load(professor_id)
    return UserType.of(user, subjects_loaded=False) if user else None


@strawberry.type(name="Subject")
class SubjectType(Node):
    code: str = strawberry.field(description="The subject's code, e.g. INF001.")
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
            count = Deferred(lambda: info.context.loaders.subjects.student_counts.load(view.id))
        return cls(
            id=global_id("Subject", view.id),
            code=view.id,
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
        return await info.context.loaders.subjects.enrolled.load(self.view.id)

    @strawberry.field(
        description="Enrolled students by username (its professor and admins; null otherwise)."
    )
    async def students(
        self, info: Info, first: int = 20, after: str | None = None
    ) -> Connection[UserType] | None:
        request = page(info, STUDENTS, first, after)
        wanted = StudentsPage(
            subject_id=self.view.id,
            professor_id=self.view.professor_id,
            limit=request.fetch,
            after=request.after[0] if request.after else "",
        )
        found = await info.context.loaders.subjects.students.load(wanted)
        return Connection.of([UserType.of(u) for u in found], request, _by_username)

    @strawberry.field(
        description="Figures about the subject (its professor and admins; null otherwise)."
    )
    async def analytics(self, info: Info) -> SubjectAnalytics | None:
        return await subject_analytics(info, self.view)


def _by_username(user: UserType) -> tuple[str]:
    return (user.username,)


def _by_code(subject: SubjectType) -> tuple[str]:
    return (subject.code,)


async def subject_view(info: Info, code: str) -> SubjectView:
    """Query.subject and node(id:) for a Subject: one batch, get_subject_views' rule."""
    return await info.context.loaders.subjects.lookup.load(code)


async def subject_node(info: Info, code: str) -> SubjectType:
    return SubjectType.of(await subject_view(info, code), info)


async def professor_ref(info: Info, value: strawberry.ID | None, argument: str) -> str | None:
    """A professor argument as the username the service takes (a global id is looked up)."""
    if value is None:
        return None
    ref = user_ref(value, argument)
    if isinstance(ref, str):
        return ref
    user = await info.context.loaders.users.briefs.load(ref)
    # Unknown id: a name no account can have, so the service refuses it in its usual order
    # (authorization first, then "Professor not found").
    return user.username if user is not None else f"#{ref}"


@strawberry.input
class CreateSubjectInput:
    code: str = strawberry.field(description="The new subject's code, e.g. INF001.")
    name: str
    description: str = ""
    guide: str = ""
    professor_id: strawberry.ID | None = strawberry.field(
        default=None, description="The professor: a User id or username."
    )


@strawberry.input
class UpdateSubjectInput:
    subject_id: strawberry.ID = strawberry.field(description="A Subject id or code.")
    name: str | None = None
    description: str | None = None
    guide: str | None = None
    professor_id: strawberry.ID | None = strawberry.field(
        default=None, description="Reassign to this professor (admins only): id or username."
    )


@strawberry.input
class DeleteSubjectInput:
    subject_id: strawberry.ID = strawberry.field(description="A Subject id or code.")


@strawberry.input
class EnrollmentInput:
    subject_id: strawberry.ID = strawberry.field(description="A Subject id or code.")


@strawberry.type
class SubjectPayload:
    subject: SubjectType


@strawberry.type
class DeleteSubjectPayload:
    deleted_id: strawberry.ID = strawberry.field(description="The deleted Subject's id.")
    code: str
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
        professor_id: strawberry.ID | None = None,
        search: str | None = None,
    ) -> Connection[SubjectType]:
        request = page(info, SUBJECTS, first, after)
        professor = None if professor_id is None else user_ref(professor_id, "professorId")
        wanted = node_fields(info)
        actor = await info.context.actor()
        async with info.context.read() as db:
            found = await service.list_subject_rows(
                db,
                actor,
                professor=professor,
                search=search,
                limit=request.fetch,
                after=request.after[0] if request.after else "",
                with_professor="professor" in wanted,
                with_count="studentCount" in wanted,
            )
        nodes = [SubjectType.of(r.view, info, r) for r in found]
        return Connection.of(nodes, request, _by_code)

    @strawberry.field(description="One subject by global id or code.")
    async def subject(self, info: Info, id: strawberry.ID) -> SubjectType | None:
        return await subject_node(info, key_of(id, "Subject", "id"))

    @strawberry.field(description="The subjects the viewer is enrolled in.")
    async def enrolled_subjects(self, info: Info) -> list[SubjectType]:
        actor = await info.context.actor()
        async with info.context.read() as db:
            return [SubjectType.of(s, info) for s in await service.enrolled_subjects(db, actor)]


@strawberry.type
class SubjectsMutation:
    @strawberry.mutation(description="Create a subject (admins only).")
    async def create_subject(self, info: Info, input: CreateSubjectInput) -> SubjectPayload:
        actor = await info.context.require_actor()  # the caller first, as REST
        data = SubjectCreate.model_validate(
            {
                "subject_id": input.code,
                "name": input.name,
                "description": input.description,
                "guide": input.guide,
                "professor_id": await professor_ref(info, input.professor_id, "professorId"),
            }
        )
        async with info.context.transaction() as db:
            return SubjectPayload(
                subject=SubjectType.of(await service.create_subject(db, actor, data), info)
            )

    @strawberry.mutation(description="Edit a subject (admins, or its own professor).")
    async def update_subject(self, info: Info, input: UpdateSubjectInput) -> SubjectPayload:
        actor = await info.context.require_actor()  # the caller first, as REST
        changes = SubjectUpdate.model_validate(
            {
                "name": input.name,
                "description": input.description,
                "guide": input.guide,
                "professor_id": await professor_ref(info, input.professor_id, "professorId"),
            }
        )
        code = key_of(input.subject_id, "Subject", "subjectId")
        async with info.context.transaction() as db:
            view = await service.update_subject(db, actor, code, changes)
        return SubjectPayload(subject=SubjectType.of(view, info))

    @strawberry.mutation(
        description="Delete a subject with its enrollments, chat sessions and quiz attempts "
        "(admins only)."
    )
    async def delete_subject(self, info: Info, input: DeleteSubjectInput) -> DeleteSubjectPayload:
        actor = await info.context.require_actor()  # the caller first, as REST
        code = key_of(input.subject_id, "Subject", "subjectId")
        async with info.context.transaction() as db:
            await service.delete_subject(db, actor, code)
        return DeleteSubjectPayload(deleted_id=global_id("Subject", code), code=code, deleted=True)

    @strawberry.mutation(description="Enroll the viewer (a student) in a subject.")
    async def enroll(self, info: Info, input: EnrollmentInput) -> EnrollmentPayload:
        actor = await info.context.actor()
        async with info.context.transaction() as db:
            view = await service.enroll(db, actor, key_of(input.subject_id, "Subject", "subjectId"))
        return EnrollmentPayload(
            message=f"Successfully enrolled in {view.id}", subject=SubjectType.of(view, info)
        )

    @strawberry.mutation(description="Remove the viewer's enrollment in a subject.")
    async def unenroll(self, info: Info, input: EnrollmentInput) -> EnrollmentPayload:
        actor = await info.context.actor()
        async with info.context.transaction() as db:
            view = await service.unenroll(
                db, actor, key_of(input.subject_id, "Subject", "subjectId")
            )
        return EnrollmentPayload(
            message=f"Successfully unenrolled from {view.id}", subject=SubjectType.of(view, info)
        )
