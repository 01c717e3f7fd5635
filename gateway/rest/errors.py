"""One translation of domain and validation errors into the legacy REST error shapes."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from gateway.errors import DomainError, RateLimited, translate
from gateway.rest.openapi import allowed_methods

log = logging.getLogger("gateway.rest")


class ErrorOut(BaseModel):
    """Every REST error but 422: `{"detail": "..."}`."""

    detail: str


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorOut, "description": description}


# Documented on every route, so clients (and schemathesis) know every status they may meet.
COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _error("Invalid input, or a duplicate"),
    401: _error("Not authenticated"),
    403: _error("Not allowed"),
    404: _error("Not found"),
    413: _error("Request body too large"),
    429: _error("Rate limit exceeded (see the Retry-After header)"),
    503: _error("A dependency (database or chatbot) is unavailable"),
}


def _clean(error: dict[str, Any]) -> dict[str, Any]:
    # Never echo the submitted value back (it may be a password).
    return {
        "loc": list(error.get("loc", ())),
        "msg": error.get("msg", ""),
        "type": error.get("type", ""),
    }


def domain_error_response(exc: DomainError) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(exc.retry_after)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status, headers=headers)


async def not_found(_: Request, __: Exception) -> JSONResponse:
    """The outer app's 404 (a path no route takes, such as one with a raw newline) in the REST
    face's JSON shape, as documented (schemathesis ST105)."""
    return JSONResponse({"detail": "Not Found"}, status_code=404)


def install(app: FastAPI) -> None:
    async def on_domain(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, DomainError)
        return domain_error_response(exc)

    async def on_validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return JSONResponse({"detail": [_clean(e) for e in exc.errors()]}, status_code=422)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        headers = exc.headers
        if exc.status_code == 405 and (methods := allowed_methods(app, request)):
            headers = {**(headers or {}), "Allow": ", ".join(methods)}
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        domain = translate(exc)
        if domain is not None:
            return domain_error_response(domain)
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse({"detail": "Internal server error"}, status_code=500)

    async def on_bug(_: Request, __: Exception) -> JSONResponse:
        # Starlette re-raises after this response; gateway.middleware.CatchAll logs it once.
        return JSONResponse({"detail": "Internal server error"}, status_code=500)

    # Infrastructure failures get their own handlers (a handler for bare Exception would let
    # Starlette re-raise after responding); anything else is caught by gateway.middleware.
    app.add_exception_handler(SQLAlchemyError, on_unexpected)
    app.add_exception_handler(Exception, on_bug)
    app.add_exception_handler(OSError, on_unexpected)
    app.add_exception_handler(DomainError, on_domain)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
