"""The bench's tutor: the demo chatbot answering after a fixed delay, timing itself.

GET /stats returns {session_id: [seconds, arrived, left]}: the upstream's own latency, from the
request's arrival to the moment its response body is handed to the server."""

from __future__ import annotations

import argparse
import json
import time

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.demo_chatbot import create_demo_app


class Timed:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.stats: dict[str, list[float]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/stats":
            body = json.dumps(self.stats).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        started = time.perf_counter()
        arrived = time.time()
        chunks: list[bytes] = []

        async def recv() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                chunks.append(message.get("body", b""))
            return message

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.body" and not message.get("more_body"):
                try:
                    session_id = json.loads(b"".join(chunks))["id"]
                    self.stats[session_id] = [time.perf_counter() - started, arrived, time.time()]
                except (ValueError, KeyError, TypeError):
                    pass
            await send(message)

        await self.app(scope, recv, timed_send)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay", type=float, default=2.0)
    args = parser.parse_args()
    uvicorn.run(
        Timed(create_demo_app(args.delay)),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        backlog=4096,
    )


if __name__ == "__main__":
    main()
