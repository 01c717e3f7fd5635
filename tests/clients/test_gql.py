"""Python `gql` 4 (the ecosystem's client, not hand-rolled frames) against a live gateway:
HTTP through HTTPXAsyncTransport, subscriptions through WebsocketsTransport on both
subprotocols. Every document is validated by gql against the exported schema.graphql first."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from gql import Client, GraphQLRequest
from gql.client import AsyncClientSession
from gql.transport.exceptions import TransportQueryError
from gql.transport.httpx import HTTPXAsyncTransport
from gql.transport.websockets import WebsocketsTransport

from gateway.users.models import Role
from tests.clients import operations as ops
from tests.clients.conftest import Cast, Live
from tests.conftest import PASSWORD, Api

SCHEMA = (Path(__file__).parents[2] / "schema.graphql").read_text()
GRAPHQL_TRANSPORT_WS = WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL  # "graphql-transport-ws"
# "graphql-ws": the older subscriptions-transport-ws protocol (gql calls it APOLLO).
LEGACY_GRAPHQL_WS = WebsocketsTransport.APOLLO_SUBPROTOCOL


def request(document: str, **variables: Any) -> GraphQLRequest:
    return GraphQLRequest(document, variable_values=variables or None)


@asynccontextmanager
async def over_http(live: Live, token: str | None = None) -> AsyncIterator[AsyncClientSession]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    transport = HTTPXAsyncTransport(url=live.graphql_url, headers=headers, timeout=10)
    async with Client(transport=transport, schema=SCHEMA) as session:
        yield session


@asynccontextmanager
async def over_ws(live: Live, token: str, subprotocol: str) -> AsyncIterator[AsyncClientSession]:
    transport = WebsocketsTransport(
        url=live.ws_url,
        init_payload={"Authorization": f"Bearer {token}"},
        subprotocols=[subprotocol],
    )
    async with Client(transport=transport, schema=SCHEMA) as session:
        yield session


async def until(condition: Callable[[], bool], wait_s: float = 5.0) -> None:
    deadline = time.monotonic() + wait_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


async def send(session: AsyncClientSession, session_id: str, content: str) -> dict[str, Any]:
    payload = {"sessionId": session_id, "subjectId": "INF001", "content": content}
    result = await session.execute(request(ops.SEND_MESSAGE, input=payload))
    sent: dict[str, Any] = result["sendMessage"]
    return sent


async def rest_chat(live: Live, token: str, session_id: str, content: str) -> None:
    async with httpx.AsyncClient(base_url=live.url, timeout=10) as client:
        response = await client.post(
            "/chat",
            json={"id": session_id, "asignatura": "INF001", "content": content},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 200, response.text


async def test_login_mutation_then_authenticated_query(cast: Cast, live: Live) -> None:
    async with over_http(live) as anonymous:
        result = await anonymous.execute(
            request(ops.LOGIN, input={"username": "ana", "password": PASSWORD})
        )
    login = result["login"]
    assert login["tokenType"].lower() == "bearer" and login["user"]["username"] == "ana"
    async with over_http(live, login["accessToken"]) as ana:
        me = (await ana.execute(request(ops.ME)))["me"]
    assert me["username"] == "ana" and me["role"] == "STUDENT" and me["subjectCodes"] == ["INF001"]


async def test_wrong_password_is_a_graphql_error_not_a_transport_failure(
    cast: Cast, live: Live
) -> None:
    async with over_http(live) as anonymous:
        with pytest.raises(TransportQueryError) as refused:
            await anonymous.execute(
                request(ops.LOGIN, input={"username": "ana", "password": "wrong-password"})
            )
    assert refused.value.errors is not None
    assert refused.value.errors[0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_mutation_changes_what_the_next_query_reads(cast: Cast, live: Live) -> None:
    async with over_http(live, cast.ana) as ana:
        changes = {"fullName": "Ana Client", "preferences": {"theme": "dark"}}
        updated = (await ana.execute(request(ops.UPDATE_ME, input=changes)))["updateMe"]["user"]
        assert updated["fullName"] == "Ana Client"
        me = (await ana.execute(request(ops.ME)))["me"]
    assert me["preferences"]["theme"] == "dark"


async def _nothing() -> None:
    return None


async def read_pages(
    session: AsyncClientSession,
    document: str,
    field: str,
    between_pages: Callable[[], Awaitable[None]],
    first: int = 2,
) -> list[str]:
    """Every node id over all pages, in order, calling `between_pages` after each page."""
    seen: list[str] = []
    after: str | None = None
    while True:
        page = (await session.execute(request(document, first=first, after=after)))[field]
        seen += [edge["node"]["id"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return seen
        after = page["pageInfo"]["endCursor"]
        await between_pages()


async def test_user_pages_survive_accounts_created_between_pages(cast: Cast, live: Live) -> None:
    async with over_http(live, cast.admin) as admin:
        before = await read_pages(admin, ops.USERS_PAGE, "users", _nothing, first=100)
        created = 0

        async def register_one() -> None:
            nonlocal created
            created += 1
            async with httpx.AsyncClient(base_url=live.url, timeout=10) as client:
                name = f"late{created}"
                response = await client.post(
                    "/register",
                    json={"username": name, "email": f"{name}@example.com", "password": PASSWORD},
                )
            assert response.status_code in (200, 201), response.text

        paged = await read_pages(admin, ops.USERS_PAGE, "users", register_one)
    assert created >= 2
    assert len(paged) == len(set(paged)), f"a user appeared twice: {paged}"
    assert paged[: len(before)] == before, "an existing account was skipped or moved"


async def test_session_pages_survive_new_chats_between_pages(cast: Cast, live: Live) -> None:
    """Most recently active first: new sessions land before the cursor, so a value-based
    cursor neither repeats nor skips the sessions that existed when paging began."""
    async with over_http(live, cast.ana) as ana:
        for n in range(5):
            await send(ana, f"old-{n}", f"mensaje {n}")
        before = await read_pages(ana, ops.SESSIONS_PAGE, "sessions", _nothing, first=100)
        fresh = 0

        async def new_chat() -> None:
            nonlocal fresh
            fresh += 1
            await send(ana, f"new-{fresh}", "otra conversación")

        paged = await read_pages(ana, ops.SESSIONS_PAGE, "sessions", new_chat)
    assert fresh >= 2
    assert len(paged) == len(set(paged)), f"a session appeared twice: {paged}"
    assert [s for s in paged if s in before] == before, "an existing session was skipped"


async def collect_events(
    live: Live, cast: Cast, subprotocol: str, session_id: str
) -> list[dict[str, Any]]:
    """Subscribe with gql over `subprotocol`, then write one message through REST /chat and
    one through another gql client's sendMessage; return the four events received."""
    async with over_http(live, cast.ana) as writer:
        await send(writer, session_id, "abre la sesión")
        received: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        channel = f"session:{session_id}"
        async with over_ws(live, cast.ana, subprotocol) as subscriber:

            async def listen() -> None:
                document = request(ops.MESSAGE_ADDED, sessionId=session_id)
                async for data in subscriber.subscribe(document):
                    await received.put(data["messageAdded"])

            listener = asyncio.create_task(listen())
            try:
                await until(lambda: live.gateway.broker.subscribers(channel) == 1)
                await rest_chat(live, cast.ana, session_id, "desde REST")
                await send(writer, session_id, "desde GraphQL")
                return [await asyncio.wait_for(received.get(), 10) for _ in range(4)]
            finally:
                listener.cancel()
                await asyncio.gather(listener, return_exceptions=True)


def assert_both_writers_seen(events: list[dict[str, Any]], session_id: str) -> None:
    assert {e["sessionId"] for e in events} == {session_id}
    users = [e["content"] for e in events if e["role"] == "USER"]
    assert users == ["desde REST", "desde GraphQL"]
    replies = [e for e in events if e["role"] == "ASSISTANT"]
    assert len(replies) == 2 and "desde REST" in replies[0]["content"]


async def test_message_added_over_graphql_transport_ws(cast: Cast, live: Live) -> None:
    events = await collect_events(live, cast, GRAPHQL_TRANSPORT_WS, "gql-modern")
    assert_both_writers_seen(events, "gql-modern")


async def test_message_added_over_legacy_graphql_ws(cast: Cast, live: Live) -> None:
    """The older subscriptions-transport-ws protocol, still the default of many clients."""
    events = await collect_events(live, cast, LEGACY_GRAPHQL_WS, "gql-legacy")
    assert_both_writers_seen(events, "gql-legacy")


@pytest.mark.parametrize("subprotocol", [GRAPHQL_TRANSPORT_WS, LEGACY_GRAPHQL_WS])
async def test_someone_elses_session_is_a_clean_subscription_error(
    cast: Cast, live: Live, subprotocol: str
) -> None:
    async with over_http(live, cast.ana) as ana:
        await send(ana, "private", "solo mío")
    async with over_ws(live, cast.bob, subprotocol) as bob:
        with pytest.raises(TransportQueryError) as refused:
            async for _ in bob.subscribe(request(ops.MESSAGE_ADDED, sessionId="private")):
                pass
    assert refused.value.errors is not None
    assert refused.value.errors[0]["extensions"]["code"] == "FORBIDDEN"


async def test_an_open_socket_rereads_its_caller_for_every_operation(
    api: Api, cast: Cast, live: Live
) -> None:
    """gql keeps one WebSocket for a session's operations: an admin demoted meanwhile loses
    admin queries on it at once (issue 13, item 1)."""
    other_admin = await api.user("root2", Role.ADMIN)
    async with over_ws(live, cast.admin, GRAPHQL_TRANSPORT_WS) as session:
        page = await session.execute(request(ops.USERS_PAGE, first=5))
        assert page["users"]["edges"]
        async with over_http(live, other_admin) as http:
            demoted = await http.execute(
                request(ops.SET_ROLE, input={"userId": "root", "role": "STUDENT"})
            )
        assert demoted["setUserRole"]["user"]["role"] == "STUDENT"
        with pytest.raises(TransportQueryError) as refused:
            await session.execute(request(ops.USERS_PAGE, first=5))
        assert refused.value.errors is not None
        assert [e["extensions"]["code"] for e in refused.value.errors] == ["FORBIDDEN"]
