"""RestDispatch (gateway/rest/dispatch.py): the REST face's own request path, held to FastAPI's.

The differential test sends the same requests to the gateway as served (the dispatcher) and to a
second gateway over the same database whose REST face is FastAPI's alone, and compares status,
body and headers: successes, 401/403/404, every kind of 422 (query, path, body, malformed JSON,
wrong content type, the page-size cap), and what the dispatcher hands to FastAPI (405, 404, the
token form, the docs). The other tests pin the dispatcher's own rules on small apps."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import BackgroundTasks, Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.routing import Mount

from gateway.app import create_app
from gateway.config import Settings
from gateway.rest.dispatch import RestDispatch
from gateway.users.models import Role
from tests.conftest import Api

COMPARED_HEADERS = (
    "content-type",
    "content-length",
    "allow",
    "location",
    "www-authenticate",
    "retry-after",
    "cache-control",
)


def rest_dispatch(app: Starlette) -> RestDispatch:
    found = [r.app for r in app.routes if isinstance(r, Mount) and isinstance(r.app, RestDispatch)]
    assert len(found) == 1
    return found[0]


@pytest.fixture
async def reference_app(settings: Settings) -> AsyncIterator[Starlette]:
    """A second gateway over the same database, its REST face served by FastAPI alone."""
    app = create_app(settings)
    mount = next(r for r in app.routes if isinstance(r, Mount) and r.path == "")
    mount.app = rest_dispatch(app).app
    assert not any(isinstance(getattr(r, "app", None), RestDispatch) for r in app.routes)
    async with LifespanManager(app):
        yield app


def client_of(app: Any, root_path: str = "") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, root_path=root_path)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.fixture
async def reference(reference_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with client_of(reference_app) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def compare(
    served: httpx.AsyncClient, reference: httpx.AsyncClient, method: str, url: str, **kw: Any
) -> httpx.Response:
    ours = await served.request(method, url, **kw)
    theirs = await reference.request(method, url, **kw)
    where = f"{method} {url} {kw}"
    assert ours.status_code == theirs.status_code, (where, ours.text, theirs.text)
    assert ours.content == theirs.content, (where, ours.text, theirs.text)
    for header in COMPARED_HEADERS:
        assert ours.headers.get(header) == theirs.headers.get(header), (where, header)
    return ours


async def test_the_served_face_answers_as_fastapi_does(
    api: Api, reference: httpx.AsyncClient
) -> None:
    ada = bearer(await api.user("ada", Role.ADMIN))
    pat = bearer(await api.user("pat", Role.PROFESSOR))
    sam = bearer(await api.user("sam"))
    subject = {"subject_id": "INF001", "name": "Informática", "professor_id": "pat"}
    assert (await api.client.post("/subjects", json=subject, headers=ada)).status_code == 201
    assert (await api.client.post("/subjects/INF001/enroll", headers=sam)).status_code == 200
    chat = {"id": "s-1", "asignatura": "INF001", "query": "hola"}
    assert (await api.client.post("/chat", json=chat, headers=sam)).status_code == 200

    async def same(method: str, url: str, **kw: Any) -> httpx.Response:
        return await compare(api.client, reference, method, url, **kw)

    # reads, as each role and anonymously
    for who in ({}, sam, pat, ada, {"Authorization": "Bearer not-a-token"}, {"Authorization": "x"}):
        for url in (
            "/health",
            "/health/ready",
            "/system/info",
            "/users/me",
            "/users/sam",
            "/users/nobody",
            "/admin/users",
            "/subjects",
            "/subjects/enrolled",
            "/subjects/INF001",
            "/subjects/NOPE",
            "/professor/students",
            "/professor/subjects/INF001/analytics",
            "/sessions",
            "/sessions/s-1",
            "/sessions/nope",
        ):
            await same("GET", url, headers=who)
    # query and path parameters that fail validation, and the page-size cap
    for url in (
        "/admin/users?limit=0",
        "/admin/users?limit=abc",
        "/admin/users?limit=1000",
        "/admin/users?skip=-1",
        "/admin/users?limit=1&skip=1",
        "/subjects?page=0&limit=2",
        "/subjects?page=1&limit=2",
        "/sessions?limit=101",
        "/professor/subjects/INF001/analytics?limit=5&skip=0",
        "/professor/subjects/INF001/analytics?limit=0",
        f"/users/{'x' * 300}",
        f"/subjects/{'Y' * 300}",
    ):
        await same("GET", url, headers=ada if "admin" in url else pat)
    # bodies: wrong fields, malformed JSON, wrong or missing content type, empty
    for method, url, who in (
        ("POST", "/admin/users/sam/role", ada),
        ("POST", "/admin/users/sam/role", sam),
        ("PUT", "/users/me", sam),
        ("POST", "/subjects", pat),
        ("POST", "/subjects", sam),
        ("PUT", "/subjects/INF001", pat),
        ("PATCH", "/sessions/s-1", sam),
        ("PATCH", "/sessions/s-1", pat),
        ("POST", "/chat", sam),
        ("POST", "/chat", {}),
        ("POST", "/register", {}),
    ):
        wrong = {"role": "king", "email": "not-an-email", "subject_id": "", "title": ""}
        await same(method, url, headers=who, json=wrong)
        await same(method, url, headers=who, json=[1, 2])
        for content_type, content in (
            ("application/json", b'{"broken": '),
            ("text/plain", b'{"title": "x"}'),
            (None, b'{"title": "x"}'),
            (None, b""),
        ):
            typed = {"content-type": content_type} if content_type else {}
            await same(method, url, headers={**who, **typed}, content=content)
    # refusals that change nothing, and writes that leave the same state each time
    await same("DELETE", "/admin/users/nobody", headers=ada)
    await same("DELETE", "/admin/users/pat", headers=sam)
    await same("DELETE", "/subjects/NOPE", headers=pat)
    await same("POST", "/subjects/NOPE/enroll", headers=sam)
    await same("DELETE", "/subjects/NOPE/enroll", headers=sam)
    await same("DELETE", "/sessions/nope", headers=sam)
    await same("POST", "/sessions/nope/resume_chat", headers=sam)
    await same("POST", "/register", json={"username": "sam", "email": "s@example.com"})
    await same("PUT", "/users/me", json={"full_name": "Sam Same"}, headers=sam)
    await same("PATCH", "/sessions/s-1", json={"title": "Same title"}, headers=sam)
    await same("PUT", "/subjects/INF001", json={"name": "Informática I"}, headers=pat)
    await same("POST", "/admin/users/pat/role", json={"role": "professor"}, headers=ada)
    # what FastAPI keeps: 405, 404, redirects, HEAD, the token form and the docs
    for method, url in (
        ("DELETE", "/users/me"),
        ("PUT", "/health"),
        ("HEAD", "/health"),
        ("GET", "/users/me/"),
        ("GET", "/nothing-here"),
        ("GET", "/openapi.json"),
        ("GET", "/docs"),
        ("GET", "/redoc"),
    ):
        await same(method, url, headers=sam)
    await same("POST", "/token", data={"username": "sam", "password": "wrong"})


async def test_behind_a_path_prefix_as_fastapi_does(
    api: Api, app: Starlette, reference_app: Starlette, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Served under a root path (uvicorn --root-path /api behind a proxy): the route is matched
    below the prefix, as Starlette matches it, and served by its plan."""
    sam = bearer(await api.user("sam"))
    dispatch = rest_dispatch(app)
    planned: list[str] = []
    serve = dispatch._serve

    async def counted(plan: Any, *args: Any) -> None:
        planned.append(plan.route.path)
        await serve(plan, *args)

    monkeypatch.setattr(dispatch, "_serve", counted)
    async with client_of(app, "/api") as served, client_of(reference_app, "/api") as reference:
        for url in ("/api/users/me", "/api/health", "/api/subjects?limit=0", "/api/nothing"):
            r = await compare(served, reference, "GET", url, headers=sam)
            assert r.status_code != 500
        assert (await served.get("/api/users/me", headers=sam)).json()["username"] == "sam"
    assert planned == ["/users/me", "/health", "/subjects", "/users/me"]  # /nothing: FastAPI's


async def test_every_route_but_the_token_form_is_dispatched(app: Starlette) -> None:
    dispatch = rest_dispatch(app)
    served = {(m, plan.route.path) for plan in dispatch.plans() for m in plan.methods}
    declared = {
        (m, ctx.path)
        for ctx in iter_route_contexts(dispatch.app.routes)
        if getattr(ctx, "dependant", None) is not None
        for m in ctx.methods or ()
    }
    assert declared - served == {("POST", "/token")}


# The dispatcher's own rules, on a small app, against FastAPI serving the same app.


class Item(BaseModel):
    name: str
    note: str | None = None


def small_app(calls: list[str]) -> FastAPI:
    app = FastAPI()

    async def counted(request: Request) -> str:
        calls.append(request.url.path)
        return "value"

    async def uses_counted(value: str = Depends(counted)) -> str:
        return value.upper()

    async def checked(q: int) -> int:
        calls.append(f"checked {q}")
        return q

    @app.get("/cached")
    async def cached(a: str = Depends(counted), b: str = Depends(uses_counted)) -> dict[str, str]:
        return {"a": a, "b": b}

    @app.get("/uncached")
    async def uncached(
        a: str = Depends(counted), b: str = Depends(counted, use_cache=False)
    ) -> dict[str, str]:
        return {"a": a, "b": b}

    @app.get("/checked")
    async def uses_checked(q: int = Depends(checked), n: int = Query(ge=1)) -> dict[str, int]:
        return {"q": q, "n": n}

    @app.post("/items", status_code=201, response_model=Item, response_model_exclude_none=True)
    async def create(item: Item, n: int = Query(ge=1)) -> dict[str, Any]:
        return {"name": item.name * n, "note": None, "dropped": "by the response model"}

    @app.get("/wrong", response_model=Item)
    async def wrong() -> dict[str, Any]:
        return {"nom": "not an item"}

    @app.delete("/items", status_code=204)
    async def delete() -> None:
        return None

    @app.get("/teapot")
    async def teapot() -> None:
        raise HTTPException(418, "short and stout")

    @app.get("/later")
    async def later(tasks: BackgroundTasks) -> dict[str, str]:
        tasks.add_task(calls.append, "background")
        return {"ok": "later"}

    async def on_teapot(_: Request, __: Exception) -> JSONResponse:
        return JSONResponse({"detail": "status handler"}, status_code=418)

    app.add_exception_handler(418, on_teapot)
    app.state.counted = counted
    return app


SMALL_REQUESTS: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/cached", {}),
    ("GET", "/uncached", {}),
    ("GET", "/checked?q=1&n=2", {}),
    ("GET", "/checked?q=abc&n=0", {}),
    ("POST", "/items?n=2", {"json": {"name": "ab"}}),
    ("POST", "/items?n=0", {"json": {"nom": "ab"}}),
    ("POST", "/items?n=1", {"content": b"[", "headers": {"content-type": "application/json"}}),
    ("DELETE", "/items", {}),
    ("GET", "/teapot", {}),
    ("GET", "/later", {}),
]


@pytest.fixture
async def small(gateway: Any) -> AsyncIterator[tuple[Any, Any, RestDispatch, list[str]]]:
    calls: list[str] = []
    app = small_app(calls)
    app.state.gateway = gateway
    dispatch = RestDispatch(app)

    def client(asgi: Any) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=asgi, raise_app_exceptions=False)
        return httpx.AsyncClient(transport=transport, base_url="http://test")

    async with client(dispatch) as served, client(app) as reference:
        yield served, reference, dispatch, calls


@pytest.mark.parametrize(("method", "url", "kw"), SMALL_REQUESTS)
async def test_the_dispatcher_follows_fastapi_on_a_small_app(
    small: tuple[httpx.AsyncClient, httpx.AsyncClient, RestDispatch, list[str]],
    method: str,
    url: str,
    kw: dict[str, Any],
) -> None:
    served, reference, _, calls = small
    ours = await compare(served, reference, method, url, **kw)
    half = len(calls) // 2
    assert calls[:half] == calls[half:]  # the same dependencies ran, as often
    assert ours.status_code != 500


async def test_what_the_small_app_shows(
    small: tuple[httpx.AsyncClient, httpx.AsyncClient, RestDispatch, list[str]],
) -> None:
    served, _, dispatch, calls = small
    assert (await served.get("/cached")).json() == {"a": "value", "b": "VALUE"}
    assert (await served.get("/uncached")).json() == {"a": "value", "b": "value"}
    assert calls == ["/cached", "/uncached", "/uncached"]  # once per request unless opted out
    r = await served.get("/checked?q=abc&n=0")
    assert [e["loc"] for e in r.json()["detail"]] == [["query", "q"], ["query", "n"]]
    assert calls == ["/cached", "/uncached", "/uncached"]  # a dependency that failed: not run
    r = await served.post("/items?n=2", json={"name": "ab"})
    assert (r.status_code, r.json()) == (201, {"name": "abab"})
    r = await served.delete("/items")
    assert (r.status_code, r.content) == (204, b"")
    r = await served.get("/teapot")
    assert (r.status_code, r.json()) == (418, {"detail": "status handler"})
    # a response that fails validation is a bug: it propagates (the gateway's CatchAll answers)
    assert (await served.get("/wrong")).status_code == 500
    covered = {plan.route.path for plan in dispatch.plans()}
    assert "/cached" in covered and "/later" not in covered  # BackgroundTasks: FastAPI's


async def test_with_dependency_overrides_fastapi_serves(
    small: tuple[httpx.AsyncClient, httpx.AsyncClient, RestDispatch, list[str]],
) -> None:
    served, _, dispatch, _ = small

    async def overridden() -> str:
        return "overridden"

    dispatch.app.dependency_overrides[dispatch.app.state.counted] = overridden
    try:
        assert (await served.get("/cached")).json() == {"a": "overridden", "b": "OVERRIDDEN"}
    finally:
        dispatch.app.dependency_overrides.clear()
