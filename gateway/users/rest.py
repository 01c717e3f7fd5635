from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel

from gateway.rest.deps import DB, CurrentActor, LazyDB, SignedIn
from gateway.rest.routing import SessionRoute
from gateway.users import service
from gateway.users.models import Role
from gateway.users.schemas import Preferences, ProfileUpdate, UserView

router = APIRouter(prefix="/users", tags=["users"], route_class=SessionRoute)


class UserOut(BaseModel):
    username: str
    email: str
    full_name: str
    role: Role
    subjects: list[str]


class ProfileOut(UserOut):
    preferences: Preferences

    @classmethod
    def of(cls, user: UserView) -> ProfileOut:
        return cls(
            **user.model_dump(include={"username", "email", "full_name", "role", "subjects"}),
            preferences=Preferences.model_validate(
                {"theme": user.theme, "notifications": user.notifications}
            ),
        )


@router.get("/me", response_model=ProfileOut)
async def read_me(db: LazyDB, actor: CurrentActor) -> ProfileOut:
    profile = service.loaded_profile(actor)
    if profile is None:  # no session when the caller's read brought the profile along
        profile = await service.me(await db.get(), actor)
    return ProfileOut.of(profile)


@router.put(
    "/me", response_model=ProfileOut, responses={400: {"description": "Email already in use"}}
)
async def update_me(actor: SignedIn, body: ProfileUpdate, db: DB) -> ProfileOut:
    return ProfileOut.of(await service.update_me(db, actor, body))


@router.get("/{username}", response_model=UserOut, responses={403: {}, 404: {}})
async def read_user(
    username: Annotated[str, Path(max_length=254)], db: DB, actor: CurrentActor
) -> UserOut:
    user = await service.get_user(db, actor, username)
    return UserOut.model_validate(user.model_dump())
