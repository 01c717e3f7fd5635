"""REST face of subjects and enrollment (paths and shapes of the legacy API)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Self

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from gateway.policy import MAX_SEARCH_CHARS
from gateway.rest.deps import DB, CurrentActor, Limit, SignedIn
from gateway.rest.routing import SessionRoute
from gateway.subjects import service
from gateway.subjects.schemas import SubjectCreate, SubjectUpdate, SubjectView

router = APIRouter(prefix="/subjects", tags=["subjects"], route_class=SessionRoute)
SubjectPath = Annotated[str, Path(max_length=64)]


class SubjectBrief(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: str = Field(alias="_id")
    name: str
    professor_id: str | None = Field(description="The professor's username.")

    @classmethod
    def of(cls, view: SubjectView, **extra: object) -> Self:
        return cls.model_validate(
            {
                "id": view.id,
                "name": view.name,
                "description": view.description,
                "guide": view.guide,
                "created_at": view.created_at,
                "professor_id": view.professor_username,
                **extra,
            }
        )


class SubjectListItem(SubjectBrief):
    description: str
    student_count: int


class SubjectCreated(SubjectBrief):
    description: str
    created_at: dt.datetime


class SubjectDetail(SubjectBrief):
    description: str
    guide: str


class SubjectFull(SubjectDetail):
    created_at: dt.datetime
    student_count: int


class EnrollOut(BaseModel):
    message: str
    subject: SubjectBrief


@router.get("", response_model=list[SubjectListItem])
async def list_subjects(
    db: DB,
    actor: CurrentActor,
    professor_id: Annotated[str | None, Query(max_length=254, description="A username")] = None,
    search: Annotated[
        str | None, Query(max_length=MAX_SEARCH_CHARS, description="Name contains")
    ] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    limit: Limit = 20,
) -> list[SubjectListItem]:
    found = await service.list_subject_rows(
        db,
        actor,
        professor=professor_id,
        search=search,
        limit=limit,
        skip=(page - 1) * limit,
        with_count=True,
    )
    return [SubjectListItem.of(r.view, student_count=r.student_count) for r in found]


@router.post(
    "",
    status_code=201,
    response_model=SubjectCreated,
    responses={400: {"description": "Subject already exists / not a professor"}, 403: {}, 404: {}},
)
async def create_subject(actor: SignedIn, body: SubjectCreate, db: DB) -> SubjectCreated:
    return SubjectCreated.of(await service.create_subject(db, actor, body))


@router.get("/enrolled", response_model=list[SubjectDetail])
async def enrolled_subjects(db: DB, actor: CurrentActor) -> list[SubjectDetail]:
    return [SubjectDetail.of(s) for s in await service.enrolled_subjects(db, actor)]


@router.get("/{subject_id}", response_model=SubjectFull, responses={404: {}})
async def read_subject(subject_id: SubjectPath, db: DB, actor: CurrentActor) -> SubjectFull:
    found = await service.get_subject_row(db, actor, subject_id)
    return SubjectFull.of(found.view, student_count=found.student_count or 0)


@router.put("/{subject_id}", response_model=SubjectDetail, responses={403: {}, 404: {}})
async def update_subject(
    actor: SignedIn, subject_id: SubjectPath, body: SubjectUpdate, db: DB
) -> SubjectDetail:
    return SubjectDetail.of(await service.update_subject(db, actor, subject_id, body))


@router.delete("/{subject_id}", status_code=204, responses={403: {}, 404: {}})
async def delete_subject(subject_id: SubjectPath, db: DB, actor: CurrentActor) -> Response:
    await service.delete_subject(db, actor, subject_id)
    return Response(status_code=204)


@router.post(
    "/{subject_id}/enroll",
    response_model=EnrollOut,
    responses={
        400: {"description": "Student role required"},
        403: {"description": "Student already enrolled"},
        404: {"description": "Subject not found"},
    },
)
async def enroll(subject_id: SubjectPath, db: DB, actor: CurrentActor) -> EnrollOut:
    view = await service.enroll(db, actor, subject_id)
    return EnrollOut(message=f"Successfully enrolled in {view.id}", subject=SubjectBrief.of(view))


@router.delete(
    "/{subject_id}/enroll",
    status_code=204,
    responses={400: {"description": "Student role required"}, 404: {}},
)
async def unenroll(subject_id: SubjectPath, db: DB, actor: CurrentActor) -> Response:
    await service.unenroll(db, actor, subject_id)
    return Response(status_code=204)
