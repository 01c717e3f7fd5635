from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, Field

from gateway.admin import service
from gateway.rest.deps import DB, CurrentActor, Limit, SignedIn, Skip
from gateway.rest.routing import SessionRoute
from gateway.users.models import Role
from gateway.users.rest import UserOut
from gateway.users.schemas import ROLE_PATTERN

router = APIRouter(prefix="/admin", tags=["admin"], route_class=SessionRoute)
UsernamePath = Annotated[str, Path(max_length=254)]


class AdminUserOut(UserOut):
    created_at: dt.datetime


class RoleBody(BaseModel):
    role: str = Field(json_schema_extra={"pattern": ROLE_PATTERN})  # checked by the service


class RoleChangedOut(BaseModel):
    username: str
    role: Role
    message: str = "User role updated"


@router.get("/users", response_model=list[AdminUserOut])
async def list_users(
    db: DB,
    actor: CurrentActor,
    role: Annotated[
        str | None,
        Query(
            description="STUDENT, PROFESSOR or ADMIN", json_schema_extra={"pattern": ROLE_PATTERN}
        ),
    ] = None,
    limit: Limit = 50,
    skip: Skip = 0,
) -> list[AdminUserOut]:
    found = await service.list_users(db, actor, role=role, limit=limit, skip=skip)
    return [AdminUserOut.model_validate(u.model_dump()) for u in found]


@router.post(
    "/users/{username}/role",
    response_model=RoleChangedOut,
    responses={400: {"description": "Invalid role"}, 403: {}, 404: {}},
)
async def change_role(
    actor: SignedIn, username: UsernamePath, body: RoleBody, db: DB
) -> RoleChangedOut:
    user = await service.set_role(db, actor, username, body.role)
    return RoleChangedOut(username=user.username, role=user.role)


@router.delete("/users/{username}", status_code=204, responses={403: {}, 404: {}})
async def delete_user(username: UsernamePath, db: DB, actor: CurrentActor) -> Response:
    await service.delete_user(db, actor, username)
    return Response(status_code=204)
