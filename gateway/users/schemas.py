"""Validated inputs and the views services return; both faces use these same models."""

from __future__ import annotations

import datetime as dt
import unicodedata
import uuid
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    StrictBool,
    StringConstraints,
    WithJsonSchema,
    field_validator,
)

from gateway.users.models import Role

Username = Annotated[
    str,
    BeforeValidator(lambda v: v.strip().lower() if isinstance(v, str) else v),
    StringConstraints(pattern=r"^[a-z0-9_.\-]{3,50}$"),
    # What the API accepts, before the strip and the lower-casing (OpenAPI; schemathesis ST202).
    WithJsonSchema({"type": "string", "pattern": r"^\s*[A-Za-z0-9_.\-]{3,50}\s*$"}),
]
Password = Annotated[str, Field(min_length=8, max_length=256)]


def _nfkc(value: object) -> object:
    return unicodedata.normalize("NFKC", value).strip() if isinstance(value, str) else value


def _plain_local_part(value: str) -> str:
    """Fullwidth letters were folded by NFKC already; any other non-ASCII letter in the local
    part (a Cyrillic letter a in "admin") could pass for an ASCII one, so it is refused, and the
    address is compared in lower case: one mailbox name, one account (issue 13, item 10d)."""
    local, _, domain = value.rpartition("@")
    if not local.isascii():
        raise ValueError("the part of the email before @ must use ASCII characters only")
    return f"{local.lower()}@{domain.lower()}"


# NFKC first (fullwidth "admin" becomes plain ASCII), then the email syntax, then the ASCII rule.
Email = Annotated[
    EmailStr,
    BeforeValidator(_nfkc),
    Field(max_length=254),
    AfterValidator(_plain_local_part),
    WithJsonSchema(
        {"type": "string", "format": "email", "maxLength": 254, "pattern": r"^[\x21-\x7e]+@"}
    ),
]
FullName = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=200, pattern=r"^[^\x00]*$")
]
Theme = Literal["light", "dark", "system"]


def _any_case(word: str) -> str:
    return "".join(f"[{c.upper()}{c.lower()}]" for c in word)


# What parse_role accepts, as a JSON Schema pattern for the OpenAPI document (ECMA regexes have
# no case-insensitive flag): any casing, surrounding spaces allowed.
ROLE_PATTERN = r"^\s*(" + "|".join(_any_case(r.value) for r in Role) + r")\s*$"


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
    email: Email
    password: Password
    full_name: FullName = ""
    role: Role = Role.STUDENT

    @field_validator("role", mode="before")
    @classmethod
    def _role(cls, value: object) -> Role:
        return parse_role(value)


class Preferences(BaseModel):
    model_config = ConfigDict(extra="forbid")

    theme: Theme = "light"
    notifications: StrictBool = True


class PreferencesPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    theme: Theme | None = None
    notifications: StrictBool | None = None


class ProfileUpdate(BaseModel):
    """What a user may change about themselves. Username and role are not here on purpose."""

    model_config = ConfigDict(extra="ignore")

    full_name: FullName | None = None
    email: Email | None = None
    preferences: PreferencesPatch | None = None


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
