"""GraphQL types and operations for chat sessions, messages and quizzes (resolvers only
translate; every rule is in sessions.service)."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

import strawberry

from gateway.graphql.context import Info
from gateway.graphql.pagination import MESSAGES, QUIZ_ATTEMPTS, SESSIONS, Connection, page
from gateway.graphql.relay import Node, global_id, key_of, optional_key
from gateway.sessions import chat, service
from gateway.sessions.schemas import (
    ChatInput,
    ChatResult,
    MessageView,
    QuizAttemptView,
    RenameInput,
    ResumeInput,
    SessionView,
)
from gateway.subjects import loaders as subject_loaders
from gateway.subjects.types import SubjectType


@strawberry.enum
class MessageRole(enum.Enum):
    USER = "user"
    ASSISTANT = "assistant"


@strawberry.enum
class MessageStatus(enum.Enum):
    SENT = "sent"
    ANSWERED = "answered"
    FAILED = "failed"
    OK = "ok"


@strawberry.type(name="ChatMessage")
class ChatMessageType(Node):
    session_id: str = strawberry.field(description="The session's id (its client-chosen UUID).")
    role: MessageRole
    content: str
    status: MessageStatus = strawberry.field(
        description="user messages: SENT, then ANSWERED or FAILED; tutor messages: OK"
    )
    created_at: dt.datetime
    view_id: strawberry.Private[int]

    @classmethod
    def of(cls, view: MessageView) -> ChatMessageType:
        return cls(
            id=global_id("ChatMessage", view.id),
            session_id=view.session_id,
            role=MessageRole(view.role),
            content=view.content,
            status=MessageStatus(view.status),
            created_at=view.created_at,
            view_id=view.id,
        )


@strawberry.type(
    description="Embedded in its ChatSession (no id): Apollo needs "
    "`PendingQuestion: { merge: true }`."
)
class PendingQuestion:
    action: str
    question_num: int
    total_questions: int | None
    question_text: str

    @classmethod
    def of(cls, data: dict[str, Any] | None) -> PendingQuestion | None:
        if not data:
            return None
        return cls(
            action=str(data.get("action", "answer_question")),
            question_num=int(data.get("question_num", 0)),
            total_questions=data.get("total_questions"),
            question_text=str(data.get("question_text", "")),
        )


@strawberry.type(name="ChatSession")
class ChatSessionType(Node):
    session_id: str = strawberry.field(description="The client-chosen UUID of the session.")
    subject_code: str
    title: str
    created_at: dt.datetime
    last_active: dt.datetime
    message_count: int
    pending_question: PendingQuestion | None
    last_error: str | None = strawberry.field(
        description="Why the tutor's last reply failed; null once a reply succeeds."
    )

    @classmethod
    def of(cls, view: SessionView) -> ChatSessionType:
        return cls(
            id=global_id("ChatSession", view.id),
            session_id=view.id,
            subject_code=view.subject_id,
            title=view.title,
            created_at=view.created_at,
            last_active=view.last_active,
            message_count=view.message_count,
            pending_question=PendingQuestion.of(view.pending_question),
            last_error=view.last_error,
        )

    @strawberry.field(description="The subject this belongs to.")
    async def subject(self, info: Info) -> SubjectType | None:
        view = await subject_loaders.subjects(info).load(self.subject_code)
        return SubjectType.of(view, info) if view is not None else None

    @strawberry.field(description="The conversation, oldest first.")
    async def messages(
        self, info: Info, first: int = 50, after: str | None = None
    ) -> Connection[ChatMessageType]:
        request = page(info, MESSAGES, first, after)
        after_id = request.after[0] if request.after else 0
        key = (self.session_id, request.fetch, after_id)
        rows = await info.context.loaders.sessions.session_messages.load(key)
        return Connection.of([ChatMessageType.of(m) for m in rows], request, _by_message_id)


def _by_message_id(message: ChatMessageType) -> tuple[int]:
    return (message.view_id,)


def _by_activity(session: ChatSessionType) -> tuple[dt.datetime, str]:
    return (session.last_active, session.session_id)


def _by_attempt_time(attempt: QuizAttemptType) -> tuple[dt.datetime, int]:
    return (attempt.created_at, attempt.view_id)


@strawberry.type(name="QuizAttempt")
class QuizAttemptType(Node):
    subject_code: str
    session_id: str | None
    correct: int
    total: int
    percentage: float
    created_at: dt.datetime

    view_id: strawberry.Private[int]

    @classmethod
    def of(cls, view: QuizAttemptView) -> QuizAttemptType:
        return cls(
            id=global_id("QuizAttempt", view.id),
            subject_code=view.subject_id,
            session_id=view.session_id,
            correct=view.correct,
            total=view.total,
            percentage=view.percentage,
            created_at=view.created_at,
            view_id=view.id,
        )

    @strawberry.field(description="The subject this belongs to.")
    async def subject(self, info: Info) -> SubjectType | None:
        view = await subject_loaders.subjects(info).load(self.subject_code)
        return SubjectType.of(view, info) if view is not None else None


async def quiz_attempts_of(
    info: Info, user_id: uuid.UUID, first: int, after: str | None
) -> Connection[QuizAttemptType]:
    """Resolver body for User.quizAttempts (declared on the User type)."""
    request = page(info, QUIZ_ATTEMPTS, first, after)
    actor = await info.context.actor()
    async with info.context.read() as db:
        found = await service.list_quiz_attempts(
            db, actor, user_id, limit=request.fetch, after=request.after
        )
    return Connection.of([QuizAttemptType.of(a) for a in found], request, _by_attempt_time)


async def session_node(info: Info, session_id: str) -> ChatSessionType:
    """Query.session and node(id:) for a ChatSession: one batch, get_sessions' rule."""
    return ChatSessionType.of(await info.context.loaders.sessions.sessions.load(session_id))


async def message_node(info: Info, message_id: int) -> ChatMessageType:
    return ChatMessageType.of(await info.context.loaders.sessions.messages.load(message_id))


async def quiz_attempt_node(info: Info, attempt_id: int) -> QuizAttemptType:
    loaders = info.context.loaders.sessions
    return QuizAttemptType.of(await loaders.quiz_attempts.load(attempt_id))


def session_key(value: str, argument: str = "sessionId") -> str:
    return key_of(value, "ChatSession", argument)


_SESSION = "A ChatSession id or the session's UUID."


@strawberry.input
class SendMessageInput:
    session_id: strawberry.ID = strawberry.field(
        description=_SESSION + " A new UUID creates the session."
    )
    subject_id: strawberry.ID = strawberry.field(description="A Subject id or code.")
    content: str


@strawberry.input
class AnswerQuestionInput:
    session_id: strawberry.ID = strawberry.field(description=_SESSION)
    answer: str
    question_index: int


@strawberry.input
class RenameSessionInput:
    session_id: strawberry.ID = strawberry.field(description=_SESSION)
    title: str


@strawberry.input
class DeleteSessionInput:
    session_id: strawberry.ID = strawberry.field(description=_SESSION)


@strawberry.type
class ChatPayload:
    session: ChatSessionType
    user_message: ChatMessageType
    assistant_message: ChatMessageType | None
    interrupted: bool
    pending_question: PendingQuestion | None
    quiz_attempt: QuizAttemptType | None

    @classmethod
    def of(cls, result: ChatResult) -> ChatPayload:
        return cls(
            session=ChatSessionType.of(result.session),
            user_message=ChatMessageType.of(result.user_message),
            assistant_message=ChatMessageType.of(result.assistant_message)
            if result.assistant_message
            else None,
            interrupted=result.interrupted,
            pending_question=PendingQuestion.of(result.interrupt_info),
            quiz_attempt=QuizAttemptType.of(result.quiz_attempt) if result.quiz_attempt else None,
        )


@strawberry.type
class SessionPayload:
    session: ChatSessionType


@strawberry.type
class DeleteSessionPayload:
    deleted_id: strawberry.ID = strawberry.field(description="The deleted ChatSession's id.")
    session_id: str
    deleted: bool


@strawberry.type
class SessionsQuery:
    @strawberry.field(description="Your chat sessions, most recently active first.")
    async def sessions(
        self,
        info: Info,
        subject_id: strawberry.ID | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> Connection[ChatSessionType]:
        request = page(info, SESSIONS, first, after)
        code = optional_key(subject_id, "Subject", "subjectId")
        actor = await info.context.actor()
        async with info.context.read() as db:
            found = await service.list_sessions(
                db, actor, subject=code, limit=request.fetch, after=request.after
            )
        return Connection.of([ChatSessionType.of(s) for s in found], request, _by_activity)

    @strawberry.field(description="One of your sessions, by global id or by its UUID.")
    async def session(self, info: Info, id: strawberry.ID) -> ChatSessionType | None:
        return await session_node(info, session_key(id, "id"))


@strawberry.type
class SessionsMutation:
    @strawberry.mutation(description="Send a message to the tutor (creates the session).")
    async def send_message(self, info: Info, input: SendMessageInput) -> ChatPayload:
        caller = info.context.claims()  # the caller first: anonymous is UNAUTHENTICATED
        data = ChatInput.model_validate(
            {
                "id": session_key(input.session_id),
                "asignatura": key_of(input.subject_id, "Subject", "subjectId"),
                "content": input.content,
            }
        )
        gw = info.context.gateway
        return ChatPayload.of(
            await chat.send_message(gw.chat_db, gw.chatbot, gw.broker, caller, data)
        )

    @strawberry.mutation(description="Answer the pending quiz question.")
    async def answer_question(self, info: Info, input: AnswerQuestionInput) -> ChatPayload:
        caller = info.context.claims()
        data = ResumeInput(answer=input.answer, current_question_index=input.question_index)
        gw = info.context.gateway
        result = await chat.answer_question(
            gw.chat_db,
            gw.chatbot,
            gw.broker,
            caller,
            session_key(input.session_id),
            data,
        )
        return ChatPayload.of(result)

    @strawberry.mutation(description="Give one of your sessions a new title.")
    async def rename_session(self, info: Info, input: RenameSessionInput) -> SessionPayload:
        actor = await info.context.require_actor()  # the caller first, as REST
        data = RenameInput.model_validate({"title": input.title})
        async with info.context.transaction() as db:
            view = await service.rename_session(db, actor, session_key(input.session_id), data)
        return SessionPayload(session=ChatSessionType.of(view))

    @strawberry.mutation(description="Delete one of your sessions and its messages.")
    async def delete_session(self, info: Info, input: DeleteSessionInput) -> DeleteSessionPayload:
        actor = await info.context.require_actor()  # the caller first, as REST
        session_id = session_key(input.session_id)
        async with info.context.transaction() as db:
            await service.delete_session(db, actor, session_id)
        return DeleteSessionPayload(
            deleted_id=global_id("ChatSession", session_id), session_id=session_id, deleted=True
        )


@strawberry.type
class SessionsSubscription:
    @strawberry.subscription(
        description="Messages of one of your sessions as they are stored, from any client."
    )
    async def message_added(
        self, info: Info, session_id: strawberry.ID
    ) -> AsyncGenerator[ChatMessageType, None]:
        context = info.context
        gw = context.gateway
        events = await chat.watch_messages(
            gw.db, gw.broker, await context.actor(), session_key(session_id), context.claims
        )
        return _as_messages(events)


async def _as_messages(
    events: AsyncGenerator[MessageView, None],
) -> AsyncGenerator[ChatMessageType, None]:
    async with aclosing(events):
        async for view in events:
            yield ChatMessageType.of(view)
