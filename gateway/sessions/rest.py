"""REST face of chat and sessions: the legacy paths and shapes, over sessions.service."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from gateway.rest.deps import DB, GW, Claims, CurrentActor, Limit, SignedIn, Skip
from gateway.rest.routing import SessionRoute
from gateway.sessions import chat as chat_flow
from gateway.sessions import service
from gateway.sessions.schemas import (
    ChatInput,
    ChatResult,
    MessageView,
    RenameInput,
    ResumeInput,
    SessionView,
)

router = APIRouter(tags=["chat"], route_class=SessionRoute)


class ChatOut(BaseModel):
    response: str
    session_id: str
    asignatura: str
    message: dict[str, Any] | None
    interrupted: bool
    interrupt_info: dict[str, Any] | None


class ScoreOut(BaseModel):
    correct: int
    total: int
    percentage: float


class ResumeOut(ChatOut):
    score: ScoreOut | None = None


class SessionOut(BaseModel):
    id: str = Field(serialization_alias="_id")
    title: str
    subject: str
    created_at: dt.datetime
    last_active: dt.datetime
    message_count: int
    pending_question: dict[str, Any] | None
    last_error: str | None

    @classmethod
    def of(cls, view: SessionView) -> SessionOut:
        return cls(
            id=view.id,
            title=view.title,
            subject=view.subject_id,
            created_at=view.created_at,
            last_active=view.last_active,
            message_count=view.message_count,
            pending_question=view.pending_question,
            last_error=view.last_error,
        )


class MessageOut(BaseModel):
    id: int
    role: str
    content: str
    status: str
    created_at: dt.datetime

    @classmethod
    def of(cls, view: MessageView) -> MessageOut:
        return cls.model_validate(view.model_dump())


class SessionDetailOut(SessionOut):
    user_id: str
    messages: list[MessageOut]


def _chat_out(result: ChatResult, out: type[ChatOut] = ChatOut) -> Any:
    score = None
    if result.quiz_attempt is not None:
        a = result.quiz_attempt
        score = ScoreOut(correct=a.correct, total=a.total, percentage=a.percentage)
    extra = {"score": score} if out is ResumeOut else {}
    return out(
        response=result.response,
        session_id=result.session.id,
        asignatura=result.session.subject_id,
        message=result.upstream_message,
        interrupted=result.interrupted,
        interrupt_info=result.interrupt_info,
        **extra,
    )


UPSTREAM_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "Not enrolled in subject or session doesn't belong to user"},
    502: {"description": "The chatbot answered with an error or a malformed reply"},
    503: {"description": "Chatbot service unavailable"},
    504: {"description": "The chatbot did not answer in time"},
}


@router.post("/chat", response_model=ChatOut, responses=UPSTREAM_ERRORS)
async def chat(caller: Claims, body: ChatInput, gw: GW) -> ChatOut:
    """Send a message to the tutor; the session is created on first use."""
    result = await chat_flow.send_message(gw.chat_db, gw.chatbot, gw.broker, caller, body)
    out: ChatOut = _chat_out(result)
    return out


@router.get("/sessions", response_model=list[SessionOut])
async def list_sessions(
    db: DB,
    actor: CurrentActor,
    subject: Annotated[str | None, Query(max_length=32)] = None,
    limit: Limit = 20,
    skip: Skip = 0,
) -> list[SessionOut]:
    found = await service.list_sessions(db, actor, subject=subject, limit=limit, skip=skip)
    return [SessionOut.of(s) for s in found]


@router.get("/sessions/{session_id}", response_model=SessionDetailOut, responses={403: {}, 404: {}})
async def read_session(
    session_id: str,
    db: DB,
    actor: CurrentActor,
    limit: Annotated[int, Query(ge=1, le=1000, description="messages, oldest first")] = 1000,
    skip: Skip = 0,
) -> SessionDetailOut:
    session, messages = await service.list_messages(db, actor, session_id, limit=limit, skip=skip)
    return SessionDetailOut(
        **SessionOut.of(session).model_dump(),
        user_id=session.username,
        messages=[MessageOut.of(m) for m in messages],
    )


@router.patch("/sessions/{session_id}", response_model=SessionOut, responses={403: {}, 404: {}})
async def rename_session(actor: SignedIn, session_id: str, body: RenameInput, db: DB) -> SessionOut:
    return SessionOut.of(await service.rename_session(db, actor, session_id, body))


@router.delete("/sessions/{session_id}", status_code=204, responses={403: {}, 404: {}})
async def delete_session(session_id: str, db: DB, actor: CurrentActor) -> Response:
    await service.delete_session(db, actor, session_id)
    return Response(status_code=204)


@router.post(
    "/sessions/{session_id}/resume_chat",
    response_model=ResumeOut,
    responses={
        400: {"description": "No pending question, empty answer or wrong index"},
        **UPSTREAM_ERRORS,
    },
)
async def resume_chat(caller: Claims, session_id: str, body: ResumeInput, gw: GW) -> ResumeOut:
    """Answer the pending quiz question; the last answer records the quiz attempt."""
    result = await chat_flow.answer_question(
        gw.chat_db, gw.chatbot, gw.broker, caller, session_id, body
    )
    out: ResumeOut = _chat_out(result, ResumeOut)
    return out
