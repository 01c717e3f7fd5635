"""`gateway demo-chatbot`: the contract, spoken by the demo over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from gateway.cli import parser
from gateway.demo_chatbot import create_demo_app
from tests.upstream_stub import ThreadServer


@pytest.fixture(scope="module")
def demo_url() -> Iterator[str]:
    server = ThreadServer(create_demo_app()).start()
    yield server.url
    server.stop()


def test_cli_has_the_subcommand() -> None:
    args = parser().parse_args(["demo-chatbot", "--port", "9001", "--delay", "0.5"])
    assert (args.port, args.delay, args.host) == (9001, 0.5, "127.0.0.1")


async def test_demo_echoes_and_runs_a_quiz(demo_url: str) -> None:
    async with httpx.AsyncClient(base_url=demo_url) as c:
        r = await c.post("/chat", json={"query": "hola", "id": "d1", "asignatura": "INF001"})
        assert r.json()["interrupted"] is False and "hola" in r.json()["message"]["content"]
        r = await c.post("/resume_chat", json={"id": "d1", "user_response": "x"})
        assert r.status_code == 409
        r = await c.post("/chat", json={"query": "quiero un examen", "id": "d1"})
        info = r.json()["interrupt_info"]
        assert r.json()["interrupted"] is True and info["question_num"] == 1
        for answer in ("n log n", "stack", "8"):
            r = await c.post("/resume_chat", json={"id": "d1", "user_response": answer})
        final = r.json()
        assert final["interrupted"] is False and final["score"] == {"correct": 3, "total": 3}
        assert "Puntuación: 3/3 (100%)" in final["message"]["content"]
        history = (await c.get("/history/d1")).json()
        assert history[0] == {"role": "user", "content": "hola"} and len(history) > 8
        info = (await c.get("/system/info")).json()
        assert info["status"] == "operational"
        assert (await c.post("/chat", json={"id": "d1"})).status_code == 422
