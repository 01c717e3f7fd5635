"""Issue 13, item 10e: the OpenAPI document states the rules the handlers enforce (no
schema-valid request is refused: schemathesis ST202), and a 405 names every method its path
takes (ST205). The full `st run --checks all` is the release check in docs/security-limits.md."""

from __future__ import annotations

import re
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from gateway.users.models import Role
from tests.conftest import PASSWORD, Api


async def openapi(api: Api) -> dict[str, Any]:
    document: dict[str, Any] = (await api.client.get("/openapi.json")).json()
    return document


def validator(document: dict[str, Any], component: str) -> Draft202012Validator:
    schema = {"$ref": f"#/components/schemas/{component}", "components": document["components"]}
    return Draft202012Validator(schema)


async def test_a_405_names_every_documented_method_of_its_path(api: Api) -> None:
    paths: dict[str, dict[str, Any]] = (await openapi(api))["paths"]
    for template, operations in paths.items():
        path = re.sub(r"\{[^}]+\}", "x1", template)
        r = await api.client.request("OPTIONS", path)
        assert r.status_code == 405, (path, r.status_code)
        allowed = {m.strip() for m in r.headers["allow"].split(",")}
        assert allowed == {m.upper() for m in operations}, template
        assert r.json() == {"detail": "Method Not Allowed"}


@pytest.mark.parametrize(
    ("username", "accepted"),
    [(" Alice_1 ", True), ("bob.smith-2", True), ("", False), ("ab", False), ("a b c", False)],
)
async def test_the_username_rule_is_in_the_document(
    api: Api, username: str, accepted: bool
) -> None:
    body = {"username": username, "email": "someone@example.com", "password": PASSWORD}
    assert validator(await openapi(api), "RegisterInput").is_valid(body) is accepted
    r = await api.client.post("/register", json=body)
    assert (r.status_code == 201) is accepted, r.text
    if accepted:
        assert r.json()["username"] == username.strip().lower()


@pytest.mark.parametrize(
    ("text", "accepted"),
    [
        ({"content": "hola"}, True),
        ({"query": "hola"}, True),
        ({"content": "", "query": "hola"}, True),
        ({"content": "", "query": ""}, False),
        ({"content": "   "}, False),
        ({}, False),
    ],
)
async def test_the_chat_text_rule_is_in_the_document(
    api: Api, text: dict[str, str], accepted: bool
) -> None:
    body = {"id": "s1", "asignatura": "INF001", **text}
    assert validator(await openapi(api), "ChatInput").is_valid(body) is accepted
    if not accepted:  # the handler refuses exactly these (unauthenticated or not)
        token = await api.user("chatter")
        r = await api.client.post("/chat", json=body, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 422, r.text


async def test_a_path_no_route_takes_answers_404_in_json(api: Api) -> None:
    r = await api.client.post("/sessions/%0A%1F/resume_chat", json={})
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {"detail": "Not Found"}


async def test_a_boolean_preference_takes_only_a_boolean(api: Api) -> None:
    """The document says boolean; 0 or "yes" used to be coerced and accepted (ST201)."""
    token = await api.user("prefs")
    headers = {"Authorization": f"Bearer {token}"}
    for wrong in (0, 1, "yes", "true"):
        body = {"preferences": {"notifications": wrong}}
        r = await api.client.put("/users/me", json=body, headers=headers)
        assert r.status_code == 422, (wrong, r.text)
    r = await api.client.put(
        "/users/me", json={"preferences": {"notifications": False}}, headers=headers
    )
    assert r.status_code == 200 and r.json()["preferences"]["notifications"] is False


@pytest.mark.parametrize(
    ("role", "accepted"),
    [("student", True), (" Admin ", True), ("PROFESSOR", True), ("", False), ("3", False)],
)
async def test_the_role_rule_is_in_the_document(api: Api, role: str, accepted: bool) -> None:
    document = await openapi(api)
    admin = {"Authorization": f"Bearer {await api.user('boss', Role.ADMIN)}"}
    await api.user("target")
    (parameter,) = [
        p for p in document["paths"]["/admin/users"]["get"]["parameters"] if p["name"] == "role"
    ]
    assert Draft202012Validator(parameter["schema"]).is_valid(role) is accepted
    listed = await api.client.get("/admin/users", params={"role": role}, headers=admin)
    assert (listed.status_code == 200) is accepted, listed.text
    body = {"role": role}
    assert validator(document, "RoleBody").is_valid(body) is accepted
    changed = await api.client.post("/admin/users/target/role", json=body, headers=admin)
    assert (changed.status_code == 200) is accepted, changed.text
    if not accepted:
        assert changed.status_code == 400


@pytest.mark.parametrize(("session_id", "accepted"), [("abc-123_X", True), ("\u00e7I", False)])
async def test_the_session_id_rule_is_in_the_document(
    api: Api, session_id: str, accepted: bool
) -> None:
    document = await openapi(api)
    for operation in document["paths"]["/sessions/{session_id}"].values():
        (parameter,) = [p for p in operation["parameters"] if p["name"] == "session_id"]
        assert Draft202012Validator(parameter["schema"]).is_valid(session_id) is accepted
    token = await api.user("sessions")
    r = await api.client.get(
        f"/sessions/{session_id}", headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status_code == (404 if accepted else 400), r.text
