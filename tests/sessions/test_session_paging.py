"""Keyset paging over `sessions` (most recently active first) while new chats, from REST and
from GraphQL, move sessions to the top between two page fetches: no row is ever repeated, and
every session that did not move is seen exactly once."""

from __future__ import annotations

from typing import Any

from tests.sessions.conftest import World

SESSIONS = """query($after: String) {
  sessions(first: 2, after: $after) { pageInfo { hasNextPage endCursor } nodes { sessionId } }
}"""
SEND = """mutation($s: ID!, $c: String!) {
  sendMessage(input: {sessionId: $s, subjectId: "INF001", content: $c}) { interrupted }
}"""


async def page(world: World, after: str | None) -> dict[str, Any]:
    body = await world.api.gql(SESSIONS, {"after": after}, token=world.ana)
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["sessions"]
    return result


async def test_paging_survives_reordering_chats(world: World) -> None:
    for i in range(6):
        assert (await world.chat(world.ana, f"s{i}", f"question {i}")).status_code == 200
    first = await page(world, None)
    seen = [n["sessionId"] for n in first["nodes"]]
    assert seen == ["s5", "s4"]
    # Between fetches: s0 moves to the top through REST, s3 through GraphQL.
    assert (await world.chat(world.ana, "s0", "again")).status_code == 200
    body = await world.api.gql(SEND, {"s": "s3", "c": "again"}, token=world.ana)
    assert body["data"]["sendMessage"]["interrupted"] is False, body
    cursor = first["pageInfo"]["endCursor"]
    while True:
        current = await page(world, cursor)
        seen += [n["sessionId"] for n in current["nodes"]]
        # Another chat on a session already seen, mid-way.
        assert (await world.chat(world.ana, "s5", "more")).status_code == 200
        if not current["pageInfo"]["hasNextPage"]:
            break
        cursor = current["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)), seen
    assert set(seen) >= {"s5", "s4", "s2", "s1"}
    # The sessions that moved are at the top of a fresh first page.
    top = [n["sessionId"] for n in (await page(world, None))["nodes"]]
    assert top == ["s5", "s3"]
