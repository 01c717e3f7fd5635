"""Standard GraphQL clients against a real gateway: uvicorn on a socket, the stub tutor, the
tests' database. The accounts and the subject are made through the gateway itself, as a
frontend's users would (only the first admin comes from the operator's command path)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from gateway.app import Gateway, create_app
from gateway.config import Settings
from gateway.users.models import Role
from tests.clients import operations as ops
from tests.conftest import PASSWORD, Api, make_settings
from tests.upstream_stub import Stub, ThreadServer


@dataclass
class Live:
    url: str
    gateway: Gateway

    @property
    def graphql_url(self) -> str:
        return self.url + "/graphql"

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/graphql"


@dataclass
class Cast:
    """Who exists: ana and bob are students enrolled in INF001, taught by prof."""

    admin: str
    prof: str
    ana: str
    bob: str


@pytest.fixture(scope="module")
def live(settings: Settings) -> Iterator[Live]:
    app = create_app(make_settings(settings.database_url, chatbot_url=settings.chatbot_url))
    server = ThreadServer(app, lifespan="on").start()
    yield Live(server.url, app.state.gateway)
    server.stop()


async def _graphql(client: httpx.AsyncClient, token: str, query: str, variables: dict) -> dict:
    response = await client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )
    body: dict = response.json()
    assert response.status_code == 200 and not body.get("errors"), body
    return body


@pytest.fixture
async def cast(api: Api, live: Live, stub: Stub) -> Cast:
    admin = await api.user("root", Role.ADMIN)
    async with httpx.AsyncClient(base_url=live.url, timeout=10) as client:
        tokens: dict[str, str] = {}
        for name in ("prof", "ana", "bob"):
            registered = await client.post(
                "/register",
                json={
                    "username": name,
                    "email": f"{name}@example.com",
                    "password": PASSWORD,
                    "full_name": name.title(),
                },
            )
            assert registered.status_code in (200, 201), registered.text
            issued = await client.post("/token", data={"username": name, "password": PASSWORD})
            tokens[name] = issued.json()["access_token"]
        await _graphql(
            client,
            admin,
            ops.SET_ROLE,
            {"input": {"userId": "prof", "role": "PROFESSOR"}},
        )
        await _graphql(
            client,
            admin,
            ops.CREATE_SUBJECT,
            {"input": {"code": "INF001", "name": "Algorithms", "professorId": "prof"}},
        )
        for name in ("ana", "bob"):
            await _graphql(
                client,
                tokens[name],
                ops.ENROLL,
                {"input": {"subjectId": "INF001"}},
            )
        # The professor's token carried the STUDENT role: ask for a fresh one.
        issued = await client.post("/token", data={"username": "prof", "password": PASSWORD})
        tokens["prof"] = issued.json()["access_token"]
    return Cast(admin=admin, **tokens)
