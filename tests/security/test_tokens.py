"""Checklist row 19: forged, stale and tampered tokens are refused on both faces."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey

from gateway.users.models import Role
from tests.conftest import TEST_SECRET, Api


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def raw_token(header: dict[str, Any], claims: dict[str, Any], key: bytes | None) -> str:
    """A JWT built by hand, so that header and signature can lie independently."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    signature = (
        b"" if key is None else hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    )
    return f"{signing_input}.{b64(signature)}"


async def claims_for(api: Api, username: str, role: Role = Role.STUDENT) -> dict[str, Any]:
    token = await api.user(username, role)
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


async def assert_refused(api: Api, token: str) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    rest = await api.client.get("/users/me", headers=auth)
    assert rest.status_code == 401, rest.text
    assert rest.json() == {"detail": "Could not validate credentials"}
    assert rest.headers["www-authenticate"] == "Bearer"
    body = await api.gql("{ me { id } }", token=token)
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"], body


async def assert_accepted(api: Api, token: str) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    assert (await api.client.get("/users/me", headers=auth)).status_code == 200
    assert "errors" not in await api.gql("{ me { id } }", token=token)


def hs256(claims: dict[str, Any], secret: str = TEST_SECRET) -> str:
    return jwt.encode({"alg": "HS256"}, claims, OctKey.import_key(secret.encode()))


Forge = Callable[[dict[str, Any]], str]


def now() -> int:
    return int(time.time())


FORGERIES: dict[str, Forge] = {
    "alg none": lambda c: raw_token({"alg": "none", "typ": "JWT"}, c, None),
    "alg None with signature": lambda c: raw_token({"alg": "None"}, c, TEST_SECRET.encode()),
    "RS256 header on an HMAC body": lambda c: raw_token({"alg": "RS256"}, c, TEST_SECRET.encode()),
    "HS512 header on an HS256 body": lambda c: raw_token({"alg": "HS512"}, c, TEST_SECRET.encode()),
    "RS256 with a generated key": lambda c: jwt.encode(
        {"alg": "RS256"}, c, RSAKey.generate_key(2048)
    ),
    "wrong key": lambda c: hs256(c, "another-secret-" + "y" * 40),
    "expired": lambda c: hs256({**c, "iat": now() - 7200, "nbf": now() - 7200, "exp": now() - 60}),
    "not yet valid": lambda c: hs256({**c, "nbf": now() + 3600}),
    "missing sub": lambda c: hs256({k: v for k, v in c.items() if k != "sub"}),
    "missing uid": lambda c: hs256({k: v for k, v in c.items() if k != "uid"}),
    "missing exp": lambda c: hs256({k: v for k, v in c.items() if k != "exp"}),
    "uid not a uuid": lambda c: hs256({**c, "uid": "1 OR 1=1"}),
    "sub of another user": lambda c: hs256({**c, "sub": "someone-else"}),
    "garbage": lambda c: "not.a.jwt",
    "empty segments": lambda c: "..",
}


@pytest.mark.parametrize("forge", FORGERIES.values(), ids=FORGERIES.keys())
async def test_forged_token_refused(api: Api, forge: Forge) -> None:
    claims = await claims_for(api, "victim")
    await assert_accepted(api, hs256(claims))  # the same claims, honestly signed, work
    await assert_refused(api, forge(claims))


async def test_tampered_role_claim(api: Api) -> None:
    token = await api.user("mallory")
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["role"] = "ADMIN"
    forged = f"{header}.{b64(json.dumps(claims).encode())}.{signature}"
    await assert_refused(api, forged)
    admin_list = await api.client.get("/admin/users", headers={"Authorization": f"Bearer {forged}"})
    assert admin_list.status_code == 401


async def test_role_claim_is_not_trusted_even_when_signed(api: Api) -> None:
    claims = await claims_for(api, "student1")
    as_admin = hs256({**claims, "role": "ADMIN"})
    r = await api.client.get("/admin/users", headers={"Authorization": f"Bearer {as_admin}"})
    assert r.status_code == 403
    body = await api.gql("{ users { nodes { id } } }", token=as_admin)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


Step = Callable[[Api, str, str], Awaitable[Any]]


async def delete_rest(api: Api, admin: str, username: str) -> None:
    r = await api.client.delete(
        f"/admin/users/{username}", headers={"Authorization": f"Bearer {admin}"}
    )
    assert r.status_code == 204, r.text


async def delete_gql(api: Api, admin: str, username: str) -> None:
    body = await api.gql(
        "mutation($u: ID!) { deleteUser(input: {userId: $u}) { deleted } }",
        {"u": username},
        token=admin,
    )
    assert body["data"]["deleteUser"]["deleted"] is True, body


@pytest.mark.parametrize("delete", [delete_rest, delete_gql])
async def test_deleted_user_token_refused(api: Api, delete: Step) -> None:
    admin = await api.user("root", Role.ADMIN)
    token = await api.user("leaver")
    await assert_accepted(api, token)
    await delete(api, admin, "leaver")
    await assert_refused(api, token)


async def test_deleted_then_recreated_username_does_not_revive_old_token(api: Api) -> None:
    admin = await api.user("root", Role.ADMIN)
    old = await api.user("phoenix")
    await delete_rest(api, admin, "phoenix")
    await api.user("phoenix")  # same username, new account (new uid)
    await assert_refused(api, old)


async def demote_rest(api: Api, admin: str, username: str) -> None:
    r = await api.client.post(
        f"/admin/users/{username}/role",
        json={"role": "student"},
        headers={"Authorization": f"Bearer {admin}"},
    )
    assert r.status_code == 200, r.text


async def demote_gql(api: Api, admin: str, username: str) -> None:
    body = await api.gql(
        "mutation($u: ID!) { setUserRole(input: {userId: $u, role: STUDENT}) { user { role } } }",
        {"u": username},
        token=admin,
    )
    assert body["data"]["setUserRole"]["user"]["role"] == "STUDENT", body


@pytest.mark.parametrize("demote", [demote_rest, demote_gql])
async def test_demotion_takes_effect_with_old_token(api: Api, demote: Step) -> None:
    first = await api.user("admin1", Role.ADMIN)
    second = await api.user("admin2", Role.ADMIN)
    auth = {"Authorization": f"Bearer {second}"}
    assert (await api.client.get("/admin/users", headers=auth)).status_code == 200
    await demote(api, first, "admin2")
    assert (await api.client.get("/admin/users", headers=auth)).status_code == 403
    body = await api.gql("{ users { nodes { id } } }", token=second)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
