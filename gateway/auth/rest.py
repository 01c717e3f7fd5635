from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from pydantic import BaseModel

from gateway.auth import service
from gateway.rest.deps import DB, GW
from gateway.rest.routing import SessionRoute
from gateway.users.models import Role
from gateway.users.schemas import RegisterInput

router = APIRouter(tags=["auth"], route_class=SessionRoute)


class RegisteredOut(BaseModel):
    username: str
    email: str
    full_name: str
    role: Role
    subjects: list[str]


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


@router.post(
    "/register",
    status_code=201,
    response_model=RegisteredOut,
    responses={
        400: {"description": "Username or email already registered"},
        403: {"description": "Only STUDENT accounts can be self-registered"},
    },
)
async def register(body: RegisterInput, db: DB, gw: GW) -> RegisteredOut:
    user = await service.register(db, gw.passwords, body)
    return RegisteredOut.model_validate(user.model_dump())


@router.post(
    "/token", response_model=TokenOut, responses={401: {"description": "Incorrect credentials"}}
)
async def token(
    username: Annotated[str, Form(max_length=254)],
    password: Annotated[str, Form(max_length=4096)],
    db: DB,
    gw: GW,
) -> TokenOut:
    """OAuth2 password flow: form fields `username` and `password`."""
    result = await service.login(db, gw.passwords, gw.tokens, username, password)
    return TokenOut(access_token=result.access_token, expires_in=gw.tokens.lifetime_seconds)
