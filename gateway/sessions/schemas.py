"""Validated inputs and the views the sessions service hands to both faces."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from gateway.policy import MAX_MESSAGE_CHARS

# Client-chosen ids travel to the upstream in JSON bodies and URLs: keep them boring.
SessionId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
SubjectCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
Text = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=MAX_MESSAGE_CHARS, pattern=r"^[^\x00]*$"),
]
Title = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=r"^[^\x00]*$"),
]
TITLE_CHARS = 60


class PriorMessage(BaseModel):
    """The seed's `messages` history; accepted for compatibility, the upstream keeps its own."""

    model_config = ConfigDict(extra="ignore")

    role: str = Field(default="user", max_length=32)
    content: str = Field(default="", max_length=MAX_MESSAGE_CHARS)


class ChatInput(BaseModel):
    """POST /chat and sendMessage. `query` is the older clients' name for `content`."""

    model_config = ConfigDict(extra="ignore")

    id: SessionId
    asignatura: SubjectCode
    content: Text | None = None
    query: Text | None = None
    messages: list[PriorMessage] = Field(default_factory=list, max_length=200)

    @model_validator(mode="after")
    def _text(self) -> ChatInput:
        if not (self.content or self.query):
            raise ValueError("content (or query) must be a non-empty string")
        return self

    @property
    def text(self) -> str:
        return self.content or self.query or ""


class ResumeInput(BaseModel):
    model_config = ConfigDict(extra="ignore")

    answer: Annotated[str, StringConstraints(max_length=MAX_MESSAGE_CHARS)]
    current_question_index: int


class RenameInput(BaseModel):
    model_config = ConfigDict(extra="ignore")

    title: Title


MessageRole = Literal["user", "assistant"]


class MessageView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    session_id: str
    role: MessageRole
    content: str
    status: str
    created_at: dt.datetime


class SessionView(BaseModel):
    id: str
    user_id: str
    username: str
    subject_id: str
    title: str
    created_at: dt.datetime
    last_active: dt.datetime
    message_count: int
    pending_question: dict[str, Any] | None
    last_error: str | None


class ChatResult(BaseModel):
    """What one exchange with the tutor stored and what the upstream said."""

    session: SessionView
    user_message: MessageView
    assistant_message: MessageView | None
    response: str
    interrupted: bool
    interrupt_info: dict[str, Any] | None
    upstream_message: dict[str, Any] | None
    quiz_attempt: QuizAttemptView | None = None


class QuizAttemptView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    subject_id: str
    session_id: str | None
    correct: int
    total: int
    percentage: float
    created_at: dt.datetime


class SystemInfo(BaseModel):
    version: str
    llm_provider: str
    llm_model: str
    status: str


ChatResult.model_rebuild()
