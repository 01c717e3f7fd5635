"""Validated inputs and the views services return; both faces use these same models."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    field_validator,
)

from gateway.users.models import Role

Username = Annotated[
    str,
    BeforeValidator(lambda v: v.strip().lower() if isinstance(v, str) else v),
    StringConstraints(pattern=r"^[a-z0-9_.\-]{3,50}$"),
]
Password = Annotated[str, Field(min_length=8, max_length=256)]
FullName = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=200, pattern=r"^[^\x00]*$")
]
Theme = Literal["light", "dark", "system"]


def parse_role(value: object) -> Role:
    """Roles are accepted in any case ('student', 'Student', 'STUDENT')."""
    if isinstance(value, Role):
        return value
    if isinstance(value, str):
        try:
            return Role(value.strip().upper())
        except ValueError:
            pass
    raise ValueError("role must be one of STUDENT, PROFESSOR, ADMIN")


class RegisterInput(BaseModel):
    model_config = ConfigDict(extra="ignore")

    username: Username
    email: EmailStr = Field(max_length=254)
    password: Password
    full_name: FullName = ""
    role: Role = Role.STUDENT

    @field_validator("role", mode="before")
    @classmethod
    def _role(cls, value: object) -> Role:
        return parse_role(value)

    @field_validator("email", mode="after")
    @classmethod
    def _email(cls, value: str) -> str:
        return value.lower()


class Preferences(BaseModel):
    model_config = ConfigDict(extra="forbid")

    theme: Theme = "light"
    notifications: bool = True


class PreferencesPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    theme: Theme | None = None
    notifications: bool | None = None


class ProfileUpdate(BaseModel):
    """What a user may change about themselves. Username and role are not here on purpose."""

    model_config = ConfigDict(extra="ignore")

    full_name: FullName | None = None
    email: EmailStr | None = Field(default=None, max_length=254)
    preferences: PreferencesPatch | None = None

    @field_validator("email", mode="after")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return value.lower() if value else value


class UserView(BaseModel):
    """A user as services hand it to the faces (no password hash, ever)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    username: str
    email: str
    full_name: str
    role: Role
    theme: str
    notifications: bool
    created_at: dt.datetime
    # A factory, not `= []`: pydantic deep-copies a mutable default on every validation.
    subjects: list[str] = Field(default_factory=list)
