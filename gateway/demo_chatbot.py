"""A tiny stand-in for the tutor service, speaking docs/chatbot-upstream.md.

It echoes questions, runs a three-question quiz when asked for a quiz/test, and ends it with a
real `Puntuación: X/N (P%)` line plus the structured score. No LLM, no state on disk:
`gateway demo-chatbot` lets a new user try the whole flow."""

from __future__ import annotations

import asyncio
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

VERSION = "demo-1"
MAX_CONVERSATIONS = 10_000
_QUIZ_WORDS = re.compile(r"\b(quiz|test|examen|cuestionario)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Question:
    text: str
    answers: tuple[str, ...]  # accepted spellings, compared without spaces or case

    def accepts(self, answer: str) -> bool:
        flat = re.sub(r"\s+", "", answer.lower())
        return any(a in flat for a in self.answers)


QUESTIONS = (
    Question("¿Cuál es la complejidad media de quicksort?", ("nlogn", "nlog(n)", "n·logn")),
    Question("¿Qué estructura de datos sigue el principio LIFO?", ("pila", "stack")),
    Question("¿Cuántos bits tiene un byte?", ("8", "ocho", "eight")),
)


@dataclass
class Conversation:
    history: list[dict[str, str]] = field(default_factory=list)
    question: int | None = None  # index of the pending quiz question
    correct: int = 0


class Demo:
    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.conversations: OrderedDict[str, Conversation] = OrderedDict()

    def conversation(self, session_id: str) -> Conversation:
        found = self.conversations.get(session_id)
        if found is None:
            found = self.conversations[session_id] = Conversation()
            while len(self.conversations) > MAX_CONVERSATIONS:
                self.conversations.popitem(last=False)
        self.conversations.move_to_end(session_id)
        return found

    @staticmethod
    def interrupt(index: int) -> dict[str, Any]:
        return {
            "action": "answer_question",
            "question_num": index + 1,
            "total_questions": len(QUESTIONS),
            "question_text": QUESTIONS[index].text,
        }

    def reply(
        self, conv: Conversation, text: str | None, question: int | None, **extra: Any
    ) -> dict[str, Any]:
        conv.question = question
        if text is not None:
            conv.history.append({"role": "assistant", "content": text})
        if question is not None:
            conv.history.append({"role": "assistant", "content": QUESTIONS[question].text})
        return {
            "message": {"type": "ai", "content": text} if text is not None else None,
            "interrupted": question is not None,
            "interrupt_info": self.interrupt(question) if question is not None else None,
            **extra,
        }

    def chat(self, session_id: str, query: str, subject: str | None) -> dict[str, Any]:
        conv = self.conversation(session_id)
        conv.history.append({"role": "user", "content": query})
        if _QUIZ_WORDS.search(query):
            conv.correct = 0
            return self.reply(conv, f"Vamos con el test: {len(QUESTIONS)} preguntas.", 0)
        about = f" sobre {subject}" if subject else ""
        return self.reply(conv, f"(demo) Me preguntas{about}: «{query}»", None)

    def resume(self, session_id: str, answer: str) -> dict[str, Any] | None:
        conv = self.conversation(session_id)
        if conv.question is None:
            return None
        conv.history.append({"role": "user", "content": answer})
        right = QUESTIONS[conv.question].accepts(answer)
        conv.correct += int(right)
        verdict = "¡Correcto!" if right else "No es correcto."
        following = conv.question + 1
        if following < len(QUESTIONS):
            return self.reply(conv, verdict, following)
        total = len(QUESTIONS)
        percent = round(conv.correct * 100 / total)
        feedback = f"{verdict}\nTest terminado.\nPuntuación: {conv.correct}/{total} ({percent}%)"
        return self.reply(conv, feedback, None, score={"correct": conv.correct, "total": total})


def _error(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


async def _body(request: Request) -> dict[str, Any] | None:
    try:
        data = await request.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def create_demo_app(delay: float = 0.0) -> Starlette:
    demo = Demo(delay)

    async def chat(request: Request) -> JSONResponse:
        body = await _body(request)
        if body is None or not isinstance(body.get("query"), str) or not body.get("id"):
            return _error(422, "query and id are required")
        await asyncio.sleep(demo.delay)
        subject = body.get("asignatura")
        return JSONResponse(
            demo.chat(str(body["id"]), body["query"], subject if isinstance(subject, str) else None)
        )

    async def resume_chat(request: Request) -> JSONResponse:
        body = await _body(request)
        if body is None or not isinstance(body.get("user_response"), str) or not body.get("id"):
            return _error(422, "id and user_response are required")
        await asyncio.sleep(demo.delay)
        found = demo.resume(str(body["id"]), body["user_response"])
        return _error(409, "No quiz in progress") if found is None else JSONResponse(found)

    async def system_info(_: Request) -> JSONResponse:
        return JSONResponse(
            {
                "version": VERSION,
                "llm_provider": "Demo (echo)",
                "llm_model": "echo",
                "status": "operational",
            }
        )

    async def history(request: Request) -> JSONResponse:
        conv = demo.conversations.get(request.path_params["session_id"])
        return JSONResponse(conv.history if conv else [])

    app = Starlette(
        routes=[
            Route("/chat", chat, methods=["POST"]),
            Route("/resume_chat", resume_chat, methods=["POST"]),
            Route("/system/info", system_info),
            Route("/history/{session_id}", history),
        ]
    )
    app.state.demo = demo
    return app


def serve(host: str = "127.0.0.1", port: int = 8080, delay: float = 0.0) -> None:
    import uvicorn

    uvicorn.run(create_demo_app(delay), host=host, port=port, log_level="info")
