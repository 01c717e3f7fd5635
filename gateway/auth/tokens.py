"""JWT access tokens (joserfc, HMAC). Claims: sub, uid, role, subjects, iat, nbf, exp."""

from __future__ import annotations

import time
import uuid
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


class Tokens:
    def __init__(self, settings: Settings) -> None:
        self._alg = settings.jwt_algorithm
        self._key = OctKey.import_key(settings.signing_secret.encode())
        self._lifetime = settings.access_token_minutes * 60
        self._registry = jwt.JWTClaimsRegistry(
            leeway=5,
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
