"""The verified-token cache: a hit still re-checks expiry; only exact, verified strings hit."""

from __future__ import annotations

import time
import uuid

import pytest

from gateway.auth import tokens as tokens_module
from gateway.auth.tokens import LEEWAY, Tokens
from gateway.config import Settings
from gateway.errors import Unauthenticated
from gateway.users.models import Role
from tests.conftest import TEST_SECRET, Api


def make_tokens(minutes: int = 1) -> Tokens:
    return Tokens(Settings(jwt_secret=TEST_SECRET, access_token_minutes=minutes))


def issue(tokens: Tokens) -> str:
    return tokens.issue(user_id=uuid.uuid4(), username="ana", role="STUDENT", subjects=[])


def test_cached_token_is_refused_once_expired(monkeypatch: pytest.MonkeyPatch) -> None:
    tokens = make_tokens(minutes=1)
    token = issue(tokens)
    assert tokens.verify(token).username == "ana"  # now cached
    assert tokens.verify(token).username == "ana"  # a hit
    later = time.time() + 60 + LEEWAY + 1
    monkeypatch.setattr(tokens_module.time, "time", lambda: later)
    with pytest.raises(Unauthenticated):
        tokens.verify(token)
    with pytest.raises(Unauthenticated):  # and stays refused (the entry is gone, full check)
        tokens.verify(token)


def test_tampered_copy_of_a_cached_token_is_refused() -> None:
    tokens = make_tokens()
    token = issue(tokens)
    tokens.verify(token)
    header, payload, signature = token.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    for forged in (f"{header}.{payload}.{flipped}", f"{header}.{payload[:-1]}x.{signature}"):
        with pytest.raises(Unauthenticated):
            tokens.verify(forged)
    other = make_tokens()  # same secret: verifies; a different secret must not share the cache
    assert other.verify(token).username == "ana"
    stranger = Tokens(Settings(jwt_secret="another-secret-0123456789abcdefghijklmnopqrstuvwxyz"))
    with pytest.raises(Unauthenticated):
        stranger.verify(token)


def test_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokens_module, "VERIFIED_CACHE_SIZE", 3)
    tokens = make_tokens()
    issued = [issue(tokens) for _ in range(5)]
    for token in issued:
        tokens.verify(token)
    assert list(tokens._verified) == issued[-3:]


async def test_cached_token_still_rereads_the_user(api: Api) -> None:
    """A cached token whose user is gone is refused: the cache holds claims, never the actor."""
    token = await api.user("carla")
    admin = await api.user("root", Role.ADMIN)
    auth = {"Authorization": f"Bearer {token}"}
    assert (await api.client.get("/users/me", headers=auth)).status_code == 200
    assert (await api.gql("{ me { id } }", token=token))["data"]["me"]["id"]
    gone = await api.client.delete(
        "/admin/users/carla", headers={"Authorization": f"Bearer {admin}"}
    )
    assert gone.status_code == 204, gone.text
    assert (await api.client.get("/users/me", headers=auth)).status_code == 401
    body = await api.gql("{ me { id } }", token=token)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]
