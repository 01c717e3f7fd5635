"""Validated inputs and the views the subject services return; both faces use these."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from gateway.users.schemas import UserView

SubjectCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=r"^[^\x00]*$"),
]
Description = Annotated[str, StringConstraints(max_length=10_000, pattern=r"^[^\x00]*$")]
Guide = Annotated[str, StringConstraints(max_length=200_000, pattern=r"^[^\x00]*$")]
ProfessorName = Annotated[
    str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=254)
]


class SubjectCreate(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    subject_id: SubjectCode
    name: Name
    description: Description = ""
    guide: Guide = ""
    professor_id: ProfessorName | None = Field(
        default=None, description="The professor's username."
    )


class SubjectUpdate(BaseModel):
    """A partial update: absent fields stay as they are."""

    model_config = ConfigDict(extra="ignore")

    name: Name | None = None
    description: Description | None = None
    guide: Guide | None = None
    professor_id: ProfessorName | None = Field(
        default=None, description="Reassign to this professor (admins only)."
    )


class SubjectView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    description: str
    guide: str
    professor_id: uuid.UUID | None
    professor_username: str | None
    created_at: dt.datetime


class StudentView(BaseModel):
    """A student as a professor sees them, with the subjects of that professor they take."""

    id: uuid.UUID
    username: str
    full_name: str
    email: str
    enrolled_subjects: list[str]
    # The whole profile, for faces that show the student as a user (GraphQL: a User node).
    user: UserView


@dataclass(frozen=True, slots=True)
class SubjectRow:
    """A catalogue row; professor and student_count only when the caller asked for them."""

    view: SubjectView
    professor: UserView | None = None
    student_count: int | None = None
