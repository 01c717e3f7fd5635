"""Domain errors: raised by services, translated once per face (REST status, GraphQL code)."""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    status: ClassVar[int] = 400
    code: ClassVar[str] = "BAD_REQUEST"

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions


class InvalidInput(DomainError):
    status = 400
    code = "BAD_USER_INPUT"


class Unauthenticated(DomainError):
    status = 401
    code = "UNAUTHENTICATED"

    def __init__(self, detail: str = "Not authenticated", **extensions: Any) -> None:
        super().__init__(detail, **extensions)


class Forbidden(DomainError):
    status = 403
    code = "FORBIDDEN"

    def __init__(
        self, detail: str = "Not authorized to access this resource", **extensions: Any
    ) -> None:
        super().__init__(detail, **extensions)


class NotFound(DomainError):
    status = 404
    code = "NOT_FOUND"

    def __init__(self, detail: str = "Resource not found", **extensions: Any) -> None:
        super().__init__(detail, **extensions)


class Conflict(DomainError):
    """A uniqueness rule was violated. The legacy API answers these with 400 (or 403 for enroll)."""

    status = 400
    code = "CONFLICT"


class AlreadyEnrolled(Conflict):
    status = 403
    code = "ALREADY_ENROLLED"


class RateLimited(DomainError):
    status = 429
    code = "RATE_LIMITED"

    def __init__(self, retry_after: int, detail: str = "Rate limit exceeded") -> None:
        super().__init__(detail, retryAfter=retry_after)
        self.retry_after = retry_after


class UpstreamBadResponse(DomainError):
    status = 502
    code = "UPSTREAM_BAD_RESPONSE"


class UpstreamUnavailable(DomainError):
    status = 503
    code = "UPSTREAM_UNAVAILABLE"


class ServiceUnavailable(DomainError):
    status = 503
    code = "SERVICE_UNAVAILABLE"


class UpstreamTimeout(DomainError):
    status = 504
    code = "UPSTREAM_TIMEOUT"


def translate(exc: BaseException) -> DomainError | None:
    """Infrastructure failures that deserve a clear status instead of a 500."""
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    if isinstance(exc, DomainError):
        return exc
    if isinstance(exc, PoolTimeout):
        return ServiceUnavailable("Database busy, try again")
    if isinstance(exc, DBAPIError):
        text = str(exc.orig).lower() if exc.orig is not None else ""
        sqlstate = str(getattr(exc.orig, "sqlstate", None) or "")
        if sqlstate == "57014" or "statement timeout" in text or "canceling statement" in text:
            return ServiceUnavailable("Query took too long")
        # 40P01 deadlock, 40001 serialization failure: the transaction was rolled back whole,
        # so the same request may simply be sent again.
        if sqlstate in ("40P01", "40001"):
            return ServiceUnavailable("Database busy, try again")
        # 08: connection exception; 57P0x: shutting down / starting up; 53300: too many clients
        unavailable = sqlstate.startswith(("08", "57P")) or sqlstate == "53300"
        if (
            unavailable
            or exc.connection_invalidated
            or "connect" in text
            or "database is locked" in text
        ):
            return ServiceUnavailable("Database unavailable, try again")
        if "invalid byte sequence" in text:  # PostgreSQL refuses NUL in text
            return InvalidInput("Text must not contain NUL characters")
    if isinstance(exc, (ConnectionError, OSError)):
        return ServiceUnavailable("Database unavailable, try again")
    return None
