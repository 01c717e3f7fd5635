"""Registration and login over REST: POST /register, POST /token (with the GraphQL twin asserted
alongside where one test covers both faces)."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD, Api

REGISTER = """
mutation($input: RegisterInput!) {
  register(input: $input) { user { username role fullName subjectCodes } }
}
"""
LOGIN = """
mutation($u: String!, $p: String!) {
  login(input: {username: $u, password: $p}) { accessToken tokenType expiresIn user { username } }
}
"""


async def test_register_rest_returns_seed_shape(api: Api) -> None:
    r = await api.register("gabriel", role="STUDENT")
    assert r.status_code == 201
    assert r.json() == {
        "username": "gabriel",
        "email": "gabriel@example.com",
        "full_name": "Gabriel",
        "role": "STUDENT",
        "subjects": [],
    }


@pytest.mark.parametrize("role", ["student", "Student", None])
async def test_register_accepts_student_role_in_any_case(api: Api, role: str | None) -> None:
    extra = {"role": role} if role else {}
    r = await api.register("maria", **extra)
    assert r.status_code == 201, r.text
    assert r.json()["role"] == "STUDENT"


@pytest.mark.parametrize("role", ["PROFESSOR", "admin", "Admin"])
async def test_self_registration_never_grants_staff_roles(api: Api, role: str) -> None:
    r = await api.register("mallory", role=role)
    assert r.status_code == 403
    assert "STUDENT" in r.json()["detail"]
    body = await api.gql(
        REGISTER,
        {
            "input": {
                "username": "mallory",
                "email": "m@example.com",
                "password": PASSWORD,
                "role": role.upper(),
            }
        },
    )
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # Nothing was created by either attempt.
    assert (
        await api.client.post("/token", data={"username": "mallory", "password": PASSWORD})
    ).status_code == 401


async def test_register_unknown_role_is_422(api: Api) -> None:
    r = await api.register("eve", role="overlord")
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "role"]


async def test_duplicate_username_or_email_is_400_on_both_faces(api: Api) -> None:
    assert (await api.register("gabriel")).status_code == 201
    again = await api.register("gabriel", email="other@example.com")
    assert again.status_code == 400
    assert again.json() == {"detail": "Username or email already registered"}
    same_email = await api.register("gabriel2", email="GABRIEL@example.com")
    assert same_email.status_code == 400
    body = await api.gql(
        REGISTER,
        {"input": {"username": "gabriel", "email": "x@example.com", "password": PASSWORD}},
    )
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "CONFLICT"


async def test_register_validation_errors_are_422_lists(api: Api) -> None:
    r = await api.client.post(
        "/register", json={"username": "ab", "email": "nope", "password": "x"}
    )
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert {tuple(e["loc"]) for e in detail} == {
        ("body", "username"),
        ("body", "email"),
        ("body", "password"),
    }
    assert all(set(e) == {"loc", "msg", "type"} for e in detail)
    missing = await api.client.post("/register", json={})
    assert missing.status_code == 422
    assert {e["type"] for e in missing.json()["detail"]} == {"missing"}


async def test_token_issues_bearer_jwt_with_seed_claims(api: Api) -> None:
    await api.register("gabriel")
    r = await api.client.post("/token", data={"username": "gabriel", "password": PASSWORD})
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "bearer"
    claims = api.gateway.tokens.verify(body["access_token"])
    assert claims.username == "gabriel"
    import base64
    import json

    payload = body["access_token"].split(".")[1]
    decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert decoded["sub"] == "gabriel" and decoded["role"] == "STUDENT"
    assert decoded["subjects"] == [] and decoded["exp"] > decoded["iat"]


async def test_wrong_password_and_unknown_user_look_the_same(api: Api) -> None:
    await api.register("gabriel")
    wrong = await api.client.post("/token", data={"username": "gabriel", "password": "nope-nope"})
    unknown = await api.client.post("/token", data={"username": "nobody", "password": "nope-nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"detail": "Incorrect username or password"}
    gql = await api.gql(LOGIN, {"u": "gabriel", "p": "nope-nope"})
    assert gql["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_token_missing_form_fields_is_422(api: Api) -> None:
    r = await api.client.post("/token", data={"username": "gabriel"})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "password"]
