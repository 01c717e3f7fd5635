"""REST face of the professor views: /professor/students and a subject's analytics."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from gateway.analytics import service
from gateway.policy import MAX_PROGRESS_PAGE_SIZE
from gateway.rest.deps import DB, GW, CurrentActor, Limit, Skip
from gateway.rest.routing import SessionRoute

router = APIRouter(prefix="/professor", tags=["professor"], route_class=SessionRoute)


class StudentOut(BaseModel):
    username: str
    full_name: str
    email: str
    enrolled_subjects: list[str]


class ProgressOut(BaseModel):
    username: str
    test_count: int
    average_score: float | None
    last_activity: dt.datetime | None


class AnalyticsOut(BaseModel):
    subject_id: str
    name: str
    total_students: int
    active_students: int
    average_test_score: float | None
    student_progress: list[ProgressOut]


@router.get("/students", response_model=list[StudentOut], responses={403: {}, 404: {}})
async def my_students(
    db: DB,
    actor: CurrentActor,
    subject_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Limit = 20,
    skip: Skip = 0,
) -> list[StudentOut]:
    found = await service.my_students(db, actor, subject_id=subject_id, limit=limit, skip=skip)
    return [StudentOut.model_validate(s.model_dump()) for s in found]


@router.get(
    "/subjects/{subject_id}/analytics",
    response_model=AnalyticsOut,
    responses={403: {"description": "Not this subject's professor"}, 404: {}},
)
async def subject_analytics(
    subject_id: Annotated[str, Path(max_length=64)],
    db: DB,
    gw: GW,
    actor: CurrentActor,
    limit: Annotated[
        int, Query(ge=1, le=MAX_PROGRESS_PAGE_SIZE, description="student_progress page size")
    ] = service.PROGRESS_DEFAULT_PAGE,
    skip: Skip = 0,
) -> AnalyticsOut:
    result = await service.subject_analytics(
        db, actor, subject_id, active_days=gw.settings.active_days, limit=limit, skip=skip
    )
    s = result.summary
    return AnalyticsOut(
        subject_id=s.subject_id,
        name=s.name,
        total_students=s.total_students,
        active_students=s.active_students,
        average_test_score=s.average_test_score,
        student_progress=[
            ProgressOut(
                username=p.username,
                test_count=p.test_count,
                average_score=p.average_score,
                last_activity=p.last_activity,
            )
            for p in result.student_progress
        ],
    )
