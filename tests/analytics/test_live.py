"""Live analytics with the ecosystem's client: gql over a real WebSocket (both subprotocols)
subscribes to `subjectAnalyticsChanged`; enrollment changes and quiz completions made on REST
and GraphQL push the subject's new figures and the changed student's row, to the professor and
admins only, re-checked per event; across two gateways sharing Redis as well."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from gql.transport.exceptions import TransportQueryError
from redis import asyncio as aioredis

from gateway.adapters.broker import PREFIX
from gateway.analytics.live import channel
from gateway.app import create_app
from gateway.config import Settings
from gateway.users.models import Role
from tests.clients import operations as ops
from tests.clients.conftest import Cast, Live, cast, live  # noqa: F401
from tests.clients.test_gql import (
    GRAPHQL_TRANSPORT_WS,
    LEGACY_GRAPHQL_WS,
    over_http,
    over_ws,
    request,
    until,
)
from tests.conftest import Api, make_settings
from tests.upstream_stub import Stub, ThreadServer

REDIS_URL = os.environ.get("GATEWAY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
CHANGED = """
subscription Changed($s: ID!) {
  subjectAnalyticsChanged(subjectId: $s) {
    analytics { subjectCode totalStudents activeStudents averageTestScore }
    student { username testCount averageScore lastActivity }
  }
}
"""
ANSWER = """
mutation Answer($input: AnswerQuestionInput!) {
  answerQuestion(input: $input) { quizAttempt { percentage } }
}
"""


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def quiz(url: str, token: str, subject: str, right: int, *, finish_on_graphql: bool) -> None:
    """A whole quiz through the chat endpoints; the last answer on REST or GraphQL."""
    sid = str(uuid.uuid4())
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        r = await client.post(
            "/chat",
            json={"id": sid, "asignatura": subject, "content": "Hazme un test"},
            headers=bearer(token),
        )
        assert r.status_code == 200, r.text
        for index, answer in enumerate(("nlogn", "pila", "8"), start=1):
            given = answer if index <= right else "ni idea"
            if finish_on_graphql and index == 3:
                r = await client.post(
                    "/graphql",
                    json={
                        "query": ANSWER,
                        "variables": {
                            "input": {"sessionId": sid, "answer": given, "questionIndex": index}
                        },
                    },
                    headers=bearer(token),
                )
                assert r.status_code == 200 and "errors" not in r.json(), r.text
            else:
                r = await client.post(
                    f"/sessions/{sid}/resume_chat",
                    json={"answer": given, "current_question_index": index},
                    headers=bearer(token),
                )
                assert r.status_code == 200, r.text


@asynccontextmanager
async def listening(
    live_url: Live, token: str, subprotocol: str, subject: str
) -> AsyncIterator[asyncio.Queue[Any]]:
    """A gql subscription in the background; its events (or its error) arrive on the queue."""
    received: asyncio.Queue[Any] = asyncio.Queue()
    async with over_ws(live_url, token, subprotocol) as session:

        async def listen() -> None:
            try:
                async for data in session.subscribe(request(CHANGED, s=subject)):
                    await received.put(data["subjectAnalyticsChanged"])
            except TransportQueryError as exc:
                await received.put(exc)

        listener = asyncio.create_task(listen())
        try:
            yield received
        finally:
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)


async def next_event(queue: asyncio.Queue[Any]) -> Any:
    return await asyncio.wait_for(queue.get(), 10)


async def test_professor_and_admin_see_enrollments_and_quizzes_live(
    cast: Cast,  # noqa: F811
    live: Live,  # noqa: F811
) -> None:
    ch = channel("INF001")
    async with (
        listening(live, cast.prof, GRAPHQL_TRANSPORT_WS, "INF001") as prof,
        listening(live, cast.admin, LEGACY_GRAPHQL_WS, "INF001") as admin,
    ):
        await until(lambda: live.gateway.broker.subscribers(ch) == 2)
        async with httpx.AsyncClient(base_url=live.url, timeout=10) as client:
            r = await client.delete("/subjects/INF001/enroll", headers=bearer(cast.bob))
            assert r.status_code == 204
        for queue in (prof, admin):
            event = await next_event(queue)
            assert event == {
                "analytics": {
                    "subjectCode": "INF001",
                    "totalStudents": 1,
                    "activeStudents": 0,
                    "averageTestScore": None,
                },
                "student": None,  # bob is no longer enrolled
            }

        await quiz(live.url, cast.ana, "INF001", 2, finish_on_graphql=False)
        await quiz(live.url, cast.ana, "INF001", 3, finish_on_graphql=True)
        for queue in (prof, admin):
            first, second = await next_event(queue), await next_event(queue)
            assert first["analytics"]["averageTestScore"] == 66.7
            assert first["student"]["testCount"] == 1
            assert second["analytics"] == {
                "subjectCode": "INF001",
                "totalStudents": 1,
                "activeStudents": 1,
                "averageTestScore": 83.3,  # (66.67 + 100) / 2
            }
            student = second["student"]
            assert (student["username"], student["testCount"], student["averageScore"]) == (
                "ana",
                2,
                83.3,
            )
            assert student["lastActivity"] is not None
        # What the query reads now is what was pushed.
        async with over_http(live, cast.prof) as http:
            found = await http.execute(
                request(
                    "query($id: ID!) { subject(id: $id) { analytics { totalStudents "
                    "activeStudents averageTestScore } } }",
                    id="INF001",
                )
            )
        assert found["subject"]["analytics"] == {
            "totalStudents": 1,
            "activeStudents": 1,
            "averageTestScore": 83.3,
        }


@pytest.mark.parametrize("subprotocol", [GRAPHQL_TRANSPORT_WS, LEGACY_GRAPHQL_WS])
async def test_refusals_come_before_any_event(
    cast: Cast,  # noqa: F811
    live: Live,  # noqa: F811
    subprotocol: str,
) -> None:
    for token, subject, code in (
        (cast.ana, "INF001", "FORBIDDEN"),  # a student
        (cast.prof, "NOPE01", "NOT_FOUND"),
    ):
        async with over_ws(live, token, subprotocol) as session:
            with pytest.raises(TransportQueryError) as refused:
                async for _ in session.subscribe(request(CHANGED, s=subject)):
                    pass
        assert refused.value.errors is not None
        assert refused.value.errors[0]["extensions"]["code"] == code


async def test_a_demoted_professor_stops_receiving(
    api: Api,
    cast: Cast,  # noqa: F811
    live: Live,  # noqa: F811
) -> None:
    """The caller is re-read before each event: the next change after a demotion ends the
    stream with FORBIDDEN instead of delivering figures."""
    async with listening(live, cast.prof, GRAPHQL_TRANSPORT_WS, "INF001") as prof:
        await until(lambda: live.gateway.broker.subscribers(channel("INF001")) == 1)
        async with over_http(live, cast.admin) as http:
            await http.execute(request(ops.SET_ROLE, input={"userId": "prof", "role": "STUDENT"}))
        carl = await api.user("carl", Role.STUDENT)
        async with httpx.AsyncClient(base_url=live.url, timeout=10) as client:
            r = await client.post("/subjects/INF001/enroll", headers=bearer(carl))
            assert r.status_code == 200
        refused = await next_event(prof)
        assert isinstance(refused, TransportQueryError) and refused.errors is not None
        assert refused.errors[0]["extensions"]["code"] == "FORBIDDEN"


@pytest.fixture
def two_gateways(settings: Settings, stub: Stub) -> Iterator[tuple[Live, Live]]:
    """Two gateways on the same database, sharing Redis (as two pods do)."""
    servers = []
    lives = []
    for _ in range(2):
        app = create_app(
            make_settings(settings.database_url, chatbot_url=stub.url, redis_url=REDIS_URL)
        )
        server = ThreadServer(app, lifespan="on").start()
        servers.append(server)
        lives.append(Live(server.url, app.state.gateway))
    yield lives[0], lives[1]
    for server in servers:
        server.stop()


async def test_changes_reach_subscribers_of_another_gateway_through_redis(
    api: Api, two_gateways: tuple[Live, Live]
) -> None:
    watched, written = two_gateways
    code = f"RD{uuid.uuid4().hex[:6].upper()}"  # Redis is shared with other runs
    admin = await api.user("root_admin", Role.ADMIN)
    async with httpx.AsyncClient(base_url=written.url, timeout=10) as client:
        r = await client.post(
            "/subjects",
            json={"subject_id": code, "name": "Redis", "professor_id": None},
            headers=bearer(admin),
        )
        assert r.status_code == 201, r.text
    student = await api.user("stu", Role.STUDENT)
    redis = aioredis.from_url(REDIS_URL)
    try:
        async with listening(watched, admin, GRAPHQL_TRANSPORT_WS, code) as events:
            await until(lambda: watched.gateway.broker.subscribers(channel(code)) == 1)
            for _ in range(250):  # subscribed at Redis, not only locally
                if dict(await redis.pubsub_numsub(PREFIX + channel(code))).get(
                    (PREFIX + channel(code)).encode()
                ):
                    break
                await asyncio.sleep(0.02)
            async with httpx.AsyncClient(base_url=written.url, timeout=10) as client:
                r = await client.post(f"/subjects/{code}/enroll", headers=bearer(student))
                assert r.status_code == 200
            enrolled = await next_event(events)
            assert enrolled["analytics"]["totalStudents"] == 1
            assert enrolled["student"]["username"] == "stu"
            await quiz(written.url, student, code, 1, finish_on_graphql=True)
            completed = await next_event(events)
            assert completed["analytics"]["averageTestScore"] == 33.3
            assert completed["student"]["testCount"] == 1
    finally:
        await redis.aclose()
