"""DirectPost (gateway/graphql/direct.py): the GraphQL face's own path for JSON POSTs of
validated documents, held to strawberry's.

The differential test sends the same requests to the gateway as served and to a second gateway
over the same database whose GraphQL face is strawberry's alone, and compares status, body,
headers and the GraphQL metrics each request moved: successes, every error class (domain,
input, variables, null propagation, masked internals), mutations, and what the direct path
hands to strawberry (new or invalid documents, batches, wrong bodies, subscriptions). A spy
shows which requests the direct path served, so a silent fallback cannot pass for equality.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from prometheus_client import REGISTRY
from starlette.applications import Starlette
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.app import create_app
from gateway.config import Settings
from gateway.graphql.direct import DirectPost
from gateway.graphql.view import GatewayGraphQL
from gateway.graphql.ws import SocketContext
from gateway.users.models import Role
from tests.conftest import Api, make_settings

COMPARED_HEADERS = ("content-type", "cache-control")
# retryAfter counts down on the wall clock, so it may tick between the reference's answer and
# ours (which comes second): the bodies are compared with it blanked, and the countdowns apart.
RETRY_AFTER = re.compile(rb'"retryAfter":(\d+)')
ME = "query Profile { me { username email fullName role subjectCodes preferences { theme } } }"
SUBJECTS = "query Page($first: Int!) { subjects(first: $first) { nodes { id name } } }"


def graphql_view(app: Starlette) -> GatewayGraphQL:
    found = {
        r.endpoint
        for r in app.routes
        if isinstance(r, Route) and isinstance(getattr(r, "endpoint", None), GatewayGraphQL)
    }
    assert len(found) == 1
    view = found.pop()
    assert isinstance(view, GatewayGraphQL)
    return view


class Spy:
    """Records which requests the direct path answered (None: handed to strawberry)."""

    def __init__(self, direct: DirectPost) -> None:
        self.served = 0
        self._serve = direct.serve
        direct.serve = self  # type: ignore[method-assign]

    async def __call__(self, request: Request) -> Response | None:
        response = await self._serve(request)
        self.served += response is not None
        return response


def graphql_samples() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The GraphQL metrics' counts (not durations: those differ run to run)."""
    found = {}
    for family in REGISTRY.collect():
        if not family.name.startswith("gateway_graphql"):
            continue
        for sample in family.samples:
            if sample.name.endswith(("_total", "_count")):
                found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def moved(before: dict[Any, float], after: dict[Any, float]) -> dict[Any, float]:
    return {k: v - before.get(k, 0.0) for k, v in after.items() if v != before.get(k, 0.0)}


def blanked(answer: httpx.Response) -> bytes:
    return RETRY_AFTER.sub(b'"retryAfter":N', answer.content)


def countdowns(answer: httpx.Response) -> list[int]:
    found = [int(n) for n in RETRY_AFTER.findall(answer.content)]
    if "retry-after" in answer.headers:
        found.append(int(answer.headers["retry-after"]))
    return found


def same_countdowns(ours: list[int], theirs: list[int]) -> bool:
    """The same countdowns, ours at most one second on (it is read second)."""
    return len(ours) == len(theirs) and all(
        0 <= t - o <= 1 and o >= 1 for o, t in zip(ours, theirs, strict=True)
    )


async def apps(settings: Settings) -> AsyncIterator[tuple[Starlette, Starlette]]:
    served, reference = create_app(settings), create_app(settings)
    graphql_view(reference).direct = None
    assert graphql_view(served).direct is not None
    async with LifespanManager(served), LifespanManager(reference):
        yield served, reference


def client_of(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


class Pair:
    def __init__(self, served: Starlette, reference: Starlette) -> None:
        self.served, self.reference = client_of(served), client_of(reference)
        self.served_app = served
        view = graphql_view(served)
        self.gateway = view.gateway
        self.spy = Spy(view.direct)  # type: ignore[arg-type]
        self.requests = 0
        self.seen: set[str] = set()

    async def same(
        self,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        valid: bool = True,
        direct: bool | None = None,
        **kw: Any,
    ) -> httpx.Response:
        """One request to each gateway: the same answer, and the same metrics moved.

        Which path must serve it: `direct`, or by default, for a `valid` body, the direct path
        once the served gateway has seen the same body (its first request validates it in
        strawberry; the reference's validation does not count: each schema has its own)."""
        key = repr(sorted(body.items())) if isinstance(body, dict) else None
        if direct is None and valid:
            direct = True if key in self.seen else None
        if key is not None and valid:
            self.seen.add(key)
        self.requests += 1
        headers = {"X-Request-ID": f"differential-{self.requests}", **(headers or {})}
        if body is not None:
            kw["json"] = body
        samples = graphql_samples()
        theirs = await self.reference.post("/graphql", headers=headers, **kw)
        theirs_moved = moved(samples, samples := graphql_samples())
        served = self.spy.served
        ours = await self.served.post("/graphql", headers=headers, **kw)
        ours_moved = moved(samples, graphql_samples())
        where = (body, headers, kw)
        if direct is not None:
            assert self.spy.served - served == int(direct), where
        assert ours.status_code == theirs.status_code, (where, ours.text, theirs.text)
        assert blanked(ours) == blanked(theirs), (where, ours.text, theirs.text)
        assert same_countdowns(countdowns(ours), countdowns(theirs)), (where, ours.headers)
        for header in COMPARED_HEADERS:
            assert ours.headers.get(header) == theirs.headers.get(header), (where, header)
        for answer in (ours, theirs):
            assert answer.headers["content-length"] == str(len(answer.content)), where
        assert ours_moved == theirs_moved, where
        return ours

    async def close(self) -> None:
        await self.served.aclose()
        await self.reference.aclose()


@pytest.fixture
async def pair(settings: Settings) -> AsyncIterator[Pair]:
    async for served, reference in apps(settings):
        found = Pair(served, reference)
        yield found
        await found.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_served_queries_answer_as_strawberry_does(api: Api, pair: Pair) -> None:
    ada = bearer(await api.user("ada", Role.ADMIN))
    pat = bearer(await api.user("pat", Role.PROFESSOR))
    sam = bearer(await api.user("sam"))
    created = await api.gql(
        'mutation { createSubject(input: {code: "INF001", name: "Informática", '
        'professorId: "pat"}) { subject { id } } }',
        token=ada["Authorization"][7:],
    )
    assert "errors" not in created, created

    two_operations = "query A { me { username } } query B { systemInfo { version } }"
    documents: list[tuple[dict[str, Any], bool]] = [  # (body, valid)
        ({"query": "{ __typename }"}, True),
        ({"query": ME}, True),
        ({"query": ME, "operationName": "Profile"}, True),
        ({"query": ME, "variables": None, "extensions": {"tracing": True}}, True),
        ({"query": two_operations, "operationName": "A"}, True),
        ({"query": two_operations, "operationName": "B"}, True),
        ({"query": SUBJECTS, "variables": {"first": 5}}, True),
        ({"query": SUBJECTS, "variables": {"first": 1}}, True),
        # variables graphql-core refuses (no path: BAD_USER_INPUT), and a missing one
        ({"query": SUBJECTS, "variables": {"first": "five"}}, True),
        ({"query": SUBJECTS, "variables": {}}, True),
        # the page-size cap: the resolver refuses (the static cost is capped, not refused)
        ({"query": SUBJECTS, "variables": {"first": 100000}}, True),
        ({"query": '{ subject(id: "INF001") { name professor { fullName } studentCount } }'}, True),
        ({"query": '{ subject(id: "NOPE") { name } }'}, True),
        ({"query": "{ users(first: 5) { nodes { username role } } }"}, True),
        ({"query": '{ user(id: "sam") { username } me { username } }'}, True),
        (
            {
                "query": "query($role: Role) { users(role: $role) { nodes { username } } }",
                "variables": {"role": "ADMINN"},  # graphql-core's "Did you mean" hint
            },
            True,
        ),
        # handed to strawberry: more operations than a name picks, a name that is not there
        ({"query": two_operations}, False),
        ({"query": two_operations, "operationName": "C"}, False),
        # ... and documents that fail validation or parsing, each time
        ({"query": "{ me { nope } }"}, False),
        ({"query": "{ me { username }"}, False),
        ({"query": "subscription { __typename }"}, False),
    ]
    for who in ({}, sam, pat, ada, {"Authorization": "Bearer not-a-token"}):
        for body, valid in documents:
            await pair.same(body, headers=who, valid=valid, direct=None if valid else False)
            await pair.same(body, headers=who, valid=valid, direct=valid)
    assert pair.spy.served >= 16 * 9  # each valid body: all but its first request


async def test_mutations_and_refusals_answer_as_strawberry_does(api: Api, pair: Pair) -> None:
    ada = bearer(await api.user("ada", Role.ADMIN))
    await api.user("pat", Role.PROFESSOR)
    sam = bearer(await api.user("sam"))
    update = (
        "mutation($input: UpdateMeInput!) { updateMe(input: $input) "
        "{ user { fullName email preferences { theme notifications } } } }"
    )
    create = (
        "mutation($code: String!) { createSubject(input: {code: $code, name: "
        '"Física", professorId: "pat"}) { subject { id name } } }'
    )
    enroll = 'mutation { enroll(input: {subjectId: "FIS001"}) { message subject { name } } }'
    cases: list[tuple[dict[str, Any], dict[str, str]]] = [
        # idempotent writes: the second gateway finds what the first one wrote
        ({"query": update, "variables": {"input": {"fullName": "Sam S."}}}, sam),
        ({"query": update, "variables": {"input": {"preferences": {"theme": "dark"}}}}, sam),
        # the service's input checks (pydantic: BAD_USER_INPUT with details)
        ({"query": update, "variables": {"input": {"email": "not an email"}}}, sam),
        # refusals: a student creating a subject, nobody signed in
        ({"query": create, "variables": {"code": "FIS001"}}, sam),
        ({"query": create, "variables": {"code": "FIS001"}}, {}),
        ({"query": enroll}, sam),  # NOT_FOUND: the subject does not exist yet
    ]
    for body, who in cases:
        await pair.same(body, headers=who)
        await pair.same(body, headers=who, direct=True)
    # one write that changes state: created through the direct path, then a conflict on both
    body = {"query": create, "variables": {"code": "FIS001"}}
    served = await pair.served.post("/graphql", json=body, headers=ada)
    assert served.json()["data"]["createSubject"]["subject"]["name"] == "Física"
    await pair.same(body, headers=ada, direct=True)


async def test_bodies_strawberry_serves(pair: Pair) -> None:
    await pair.same({"query": "{ __typename }"})
    await pair.same({"query": "{ __typename }"}, direct=True)
    not_direct: list[dict[str, Any]] = [  # each handed over, answered by strawberry
        {"json": [{"query": "{ __typename }"}]},  # a batch: refused
        {"json": {"query": "{ __typename }", "variables": [1]}},
        {"json": {"query": "{ __typename }", "extensions": "x"}},
        {"json": {"query": "{ __typename }", "operationName": 3}},
        {"json": {"query": None}},
        {"json": {"variables": {}}},
        {"json": "{ __typename }"},
        {"content": b"{not json", "headers": {"Content-Type": "application/json"}},
        {"content": b"\xff\xfe", "headers": {"Content-Type": "application/json"}},
        {"content": b'{"query": "{ __typename }"}', "headers": {"Content-Type": "text/plain"}},
        {"content": b'{"query": "{ __typename }"}'},  # no content type
        {"json": {"query": "{" * 40 + "}" * 40}},
    ]
    for kw in not_direct:
        await pair.same(valid=False, direct=False, **kw)
    for content_type, direct in (
        ("application/json; charset=utf-8", True),
        (" application/json ;charset=utf-8", True),
        ("Application/JSON", False),
        ("application/json-seq", False),
    ):
        await pair.same(
            direct=direct,
            valid=False,
            content=b'{"query": "{ __typename }"}',
            headers={"Content-Type": content_type},
        )


async def test_an_unexpected_error_is_masked_on_both_paths(
    api: Api, pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    sam = bearer(await api.user("sam"))
    body = {"query": "{ systemInfo { version } }"}
    await pair.same(body, headers=sam)

    async def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("secret detail")

    monkeypatch.setattr(type(pair.gateway.chatbot), "system_info", broken)
    answer = await pair.same(body, headers=sam, direct=True)
    assert answer.json()["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert "secret" not in answer.text


async def _rate_limited_pair(database_url: str, stub_url: str) -> AsyncIterator[Pair]:
    settings = make_settings(database_url, chatbot_url=stub_url, rate_limit_default="3/minute")
    async for served, reference in apps(settings):
        found = Pair(served, reference)
        yield found
        await found.close()


async def test_the_rate_limit_answers_as_strawberry_does(
    settings: Settings, stub: Any, api: Api
) -> None:
    sam = bearer(await api.user("sam"))
    async for pair in _rate_limited_pair(settings.database_url, stub.url):
        other = "query Other { __typename }"
        await pair.same({"query": other})  # validated, not registered
        body = {"query": "{ __typename }"}
        answers = [await pair.same(body) for _ in range(4)]
        assert pair.spy.served == 3
        refused = [a.json() for a in answers if "errors" in a.json()]
        assert len(refused) == 2, [a.text for a in answers]
        assert refused[0]["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        assert countdowns(answers[-1]) and countdowns(answers[-1])[0] >= 1
        # a refused caller's registration stores nothing, on either path
        answer = await pair.same(apq(other), direct=True)
        assert answer.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        digest = hashlib.sha256(other.encode()).hexdigest()
        answer = await pair.same(apq(None, digest), headers=sam, valid=False, direct=False)
        assert answer.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


@pytest.mark.parametrize("env", ["production"])
async def test_production_answers_as_strawberry_does(
    settings: Settings, stub: Any, env: str, api: Api
) -> None:
    """In production suggestion hints are stripped and introspection is refused."""
    sam = bearer(await api.user("sam"))
    production = settings.model_copy(update={"env": env})
    async for served, reference in apps(production):
        pair = Pair(served, reference)
        role = "query($role: Role) { users(role: $role) { nodes { username } } }"
        hinted = {"query": role, "variables": {"role": "ADMINN"}}
        await pair.same(hinted, headers=sam)
        answer = await pair.same(hinted, headers=sam, direct=True)
        assert "Did you mean" not in answer.text
        assert answer.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        introspection = {"query": "{ __schema { types { name } } }"}
        for _ in range(2):
            await pair.same(introspection, headers=sam, valid=False, direct=False)
        await pair.same({"query": ME}, headers=sam)
        await pair.same({"query": ME}, headers=sam, direct=True)
        await pair.close()


async def test_a_validated_subscription_is_still_refused_over_http(pair: Pair) -> None:
    """A subscription document validated on a WebSocket is in the same cache; over HTTP it
    is still strawberry's 400, not executed by the direct path."""
    document = 'subscription { messageAdded(sessionId: "s-1") { id } }'
    view = graphql_view(pair.served_app)
    scope = {"type": "websocket", "path": "/graphql", "headers": [], "client": ("1.2.3.4", 1)}
    context = SocketContext(gateway=view.gateway, request=HTTPConnection(scope))
    stream = await view.schema.subscribe(document, context_value=context)
    first = await anext(aiter(stream))
    assert first.errors, first
    assert (first.errors[0].extensions or {}).get("code") == "UNAUTHENTICATED", first
    answer = await pair.same({"query": document}, valid=False, direct=False)
    assert answer.status_code == 400, answer.text


def apq(query: str | None, digest: str | None = None, **body: Any) -> dict[str, Any]:
    digest = digest or hashlib.sha256((query or "").encode()).hexdigest()
    persisted = {"version": 1, "sha256Hash": digest}
    return (
        {"query": query, "extensions": {"persistedQuery": persisted}, **body}
        if query
        else {
            "extensions": {"persistedQuery": persisted},
            **body,
        }
    )


async def test_persisted_queries_answer_as_strawberry_does(api: Api, pair: Pair) -> None:
    sam = bearer(await api.user("sam"))
    digest = hashlib.sha256(ME.encode()).hexdigest()
    # unknown hash: PERSISTED_QUERY_NOT_FOUND, from strawberry's path
    await pair.same(apq(None, digest), headers=sam, valid=False, direct=False)
    # registration: the first (a new document) is strawberry's, then the direct path's
    await pair.same(apq(ME), headers=sam, direct=False)
    await pair.same(apq(ME), headers=sam, direct=True)
    # the hash alone, known to both gateways now
    for _ in range(2):
        await pair.same(apq(None, digest), headers=sam, direct=True)
    await pair.same(apq(None, digest, operationName="Profile"), headers=sam, direct=True)
    # refusals are strawberry's: a wrong hash, a bad version, a null extension
    await pair.same(apq(ME, "f" * 64), headers=sam, valid=False, direct=False)
    bad_version = {"query": ME, "extensions": {"persistedQuery": {"version": 2}}}
    await pair.same(bad_version, headers=sam, valid=False, direct=False)
    null = {"query": ME, "extensions": {"persistedQuery": None}}
    await pair.same(null, headers=sam, valid=False, direct=False)
    # a valid document registered through the direct path is then known by its hash alone
    other = "query Other { me { username } }"
    await pair.same({"query": other}, headers=sam)  # validated (strawberry), not registered
    await pair.same(
        apq(None, hashlib.sha256(other.encode()).hexdigest()),
        headers=sam,
        valid=False,
        direct=False,
    )
    await pair.same(apq(other), headers=sam, direct=True)  # registered by the direct path
    answer = await pair.same(
        apq(None, hashlib.sha256(other.encode()).hexdigest()), headers=sam, direct=True
    )
    assert answer.json() == {"data": {"me": {"username": "sam"}}}
