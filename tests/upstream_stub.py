"""A real HTTP stand-in for the tutor: the demo chatbot plus switchable faults, served by
uvicorn on a free port in a background thread."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator
from typing import Any, Literal

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from gateway.demo_chatbot import Demo

SECRET_IN_ERROR = "upstream-internal-traceback-xyz"
FAULTS = ("html500", "malformed", "wrong_shape", "wrong_types", "huge", "huge_chunked", "slow")


class Held:
    """Holds the next upstream request until the test releases it, then answers with `fault`
    (a name from FAULTS) or normally: lets a test act while a chat awaits the tutor."""

    def __init__(self, fault: str | None = None) -> None:
        self.fault = fault
        self.arrived = threading.Event()
        self.release = threading.Event()


class Stub:
    """mode: "demo" (the demo tutor), a name from FAULTS, "script" (next canned reply), or
    "held" (the demo tutor, once the test sets `release`)."""

    def __init__(self) -> None:
        self.url = ""
        self.mode = "demo"
        self.structured_score = True
        self.slow_seconds = 3.0
        self.script: list[dict[str, Any]] = []
        self.requests: list[tuple[str, Any]] = []
        # mode "held": every call waits until the test sets this (then answers as the demo).
        self.release = threading.Event()
        self.held: Held | None = None
        self.headers: list[dict[str, str]] = []  # of each /chat and /resume_chat request
        self.demo = Demo()
        self.app = Starlette(
            routes=[
                Route("/chat", self.chat, methods=["POST"]),
                Route("/resume_chat", self.resume, methods=["POST"]),
                Route("/system/info", self.system_info),
            ]
        )

    def reset(self) -> None:
        self.mode, self.structured_score, self.script = "demo", True, []
        if self.held is not None:
            self.held.release.set()
        self.held = None
        self.requests.clear()
        self.release.set()  # a held call left over from a test must not hang the next one
        self.release = threading.Event()
        self.headers.clear()
        self.demo = Demo()

    async def _fault(self) -> Response | None:
        mode = self.mode
        held, self.held = self.held, None
        if held is not None:
            held.arrived.set()
            await asyncio.to_thread(held.release.wait, 30)
            mode = held.fault or mode
        if mode == "html500":
            return HTMLResponse(f"<html><body>{SECRET_IN_ERROR}</body></html>", status_code=500)
        if mode == "malformed":
            return Response(
                b'{"message": {"type": "ai", "content": ', media_type="application/json"
            )
        if mode == "wrong_shape":
            return JSONResponse({"answer": SECRET_IN_ERROR})
        if mode == "wrong_types":
            return JSONResponse({"message": {"type": "ai", "content": 42}, "interrupted": "no"})
        if mode == "huge":
            return JSONResponse(
                {"message": {"type": "ai", "content": "x" * 2_000_000}, "interrupted": False}
            )
        if mode == "huge_chunked":

            async def body() -> AsyncIterator[bytes]:
                yield b'{"message": {"type": "ai", "content": "'
                for _ in range(200):
                    yield b"y" * 10_000
                yield b'"}, "interrupted": false}'

            return StreamingResponse(body(), media_type="application/json")
        if mode == "slow":
            await asyncio.sleep(self.slow_seconds)
        if mode == "held":
            release = self.release  # set from the test's thread: poll, no cross-loop await
            while not release.is_set():  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        if mode == "script":
            return JSONResponse(self.script.pop(0))
        return None

    def _shape(self, reply: dict[str, Any]) -> JSONResponse:
        if not self.structured_score:
            reply.pop("score", None)
        return JSONResponse(reply)

    async def chat(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(("/chat", body))
        self.headers.append(dict(request.headers))
        fault = await self._fault()
        if fault is not None:
            return fault
        return self._shape(self.demo.chat(body["id"], body["query"], body.get("asignatura")))

    async def resume(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(("/resume_chat", body))
        self.headers.append(dict(request.headers))
        fault = await self._fault()
        if fault is not None:
            return fault
        found = self.demo.resume(body["id"], body["user_response"])
        if found is None:
            return JSONResponse({"detail": "No quiz in progress"}, status_code=409)
        return self._shape(found)

    async def system_info(self, _: Request) -> Response:
        if self.mode == "html500":
            return HTMLResponse("oops", status_code=500)
        return JSONResponse(
            {"version": "9.9.9", "llm_provider": "Gemini", "llm_model": "stub", "status": "ok"}
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ThreadServer:
    """Any ASGI app on a real socket, in a thread with its own event loop."""

    def __init__(self, app: ASGIApp, lifespan: Literal["auto", "on", "off"] = "off") -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app,
            log_level="warning",
            lifespan=lifespan,
            timeout_graceful_shutdown=1,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def start(self) -> ThreadServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()
