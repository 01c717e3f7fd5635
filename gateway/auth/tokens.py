"""JWT access tokens (joserfc, HMAC). Claims: sub, uid, role, subjects, iat, nbf, exp."""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey

from gateway.config import Settings
from gateway.errors import Unauthenticated


@dataclass(frozen=True, slots=True)
class TokenClaims:
    username: str
    user_id: uuid.UUID
    expires_at: int


LEEWAY = 5
# Verified tokens remembered per process: REST checks a token twice per request (rate limiter,
# then the caller) and clients reuse one token for many requests. A signature check's result
# never changes for the same string, so only the expiry is re-checked on a hit.
VERIFIED_CACHE_SIZE = 4096


class Tokens:
    def __init__(self, settings: Settings) -> None:
        self._verified: OrderedDict[str, TokenClaims] = OrderedDict()
        self._alg = settings.jwt_algorithm
        self._key = OctKey.import_key(settings.signing_secret.encode())
        self._lifetime = settings.access_token_minutes * 60
        self._registry = jwt.JWTClaimsRegistry(
            leeway=LEEWAY,
            sub={"essential": True},
            exp={"essential": True},
            uid={"essential": True},
        )

    @property
    def lifetime_seconds(self) -> int:
        return self._lifetime

    def issue(self, *, user_id: uuid.UUID, username: str, role: str, subjects: list[str]) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "sub": username,
            "uid": str(user_id),
            # Informational for clients: authorization always re-reads role and enrollments.
            "role": role,
            "subjects": subjects,
            "iat": now,
            "nbf": now,
            "exp": now + self._lifetime,
        }
        return jwt.encode({"alg": self._alg, "typ": "JWT"}, claims, self._key)

    def verify(self, token: str) -> TokenClaims:
        claims = self._verified.get(token)
        if claims is not None:
            if int(time.time()) > claims.expires_at + LEEWAY:
                del self._verified[token]
                raise Unauthenticated("Could not validate credentials")
            self._verified.move_to_end(token)
            return claims
        claims = self._verify(token)
        # nbf was valid when checked and only becomes "more valid"; exp is re-checked above.
        self._verified[token] = claims
        if len(self._verified) > VERIFIED_CACHE_SIZE:
            self._verified.popitem(last=False)
        return claims

    def _verify(self, token: str) -> TokenClaims:
        try:
            decoded = jwt.decode(token, self._key, algorithms=[self._alg])
            self._registry.validate(decoded.claims)
            claims = decoded.claims
            return TokenClaims(
                username=str(claims["sub"]),
                user_id=uuid.UUID(str(claims["uid"])),
                expires_at=int(claims["exp"]),
            )
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise Unauthenticated("Could not validate credentials") from exc


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header value; None for any other."""
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None
