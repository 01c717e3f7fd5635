"""The OpenAPI document states every rule the handlers enforce, and 405 answers name every
method a path takes (schemathesis ST202 / ST205, issue 13 item 10e)."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.routing import compile_path, get_route_path

from gateway.rest import paging
from gateway.sessions.schemas import SessionId

# A rule of a model's validator that JSON Schema can still express, keyed by the component's
# name. ChatInput (gateway/sessions/schemas.py) needs `content` or `query` with some text.
_NON_BLANK = {"type": "string", "pattern": r"\S"}
BODY_RULES: dict[str, dict[str, Any]] = {
    "ChatInput": {
        "anyOf": [
            {"required": ["content"], "properties": {"content": _NON_BLANK}},
            {"required": ["query"], "properties": {"query": _NON_BLANK}},
        ]
    },
}


@cache
def _path_regex(template: str) -> re.Pattern[str]:
    regex, _, _ = compile_path(template)
    return regex


def _pattern_of(annotated: Any) -> str:
    pattern: str = next(m.pattern for m in annotated.__metadata__ if getattr(m, "pattern", None))
    return pattern


# Path parameters whose handlers check a pattern themselves (400 "Invalid session id"); the
# pattern is read from the type the handlers use, so the two cannot drift apart.
PATH_PARAMETER_PATTERNS: dict[str, str] = {"session_id": _pattern_of(SessionId)}


def _document_path_parameters(document: dict[str, Any]) -> None:
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", ()):
                pattern = PATH_PARAMETER_PATTERNS.get(parameter.get("name"))
                if parameter.get("in") == "path" and pattern:
                    parameter.setdefault("schema", {})["pattern"] = pattern


def allowed_methods(app: FastAPI, request: Request) -> list[str]:
    """Every documented method on this path (Starlette's 405 names only the first route's),
    read from the OpenAPI document, which is what clients and schemathesis go by."""
    path = get_route_path(request.scope)
    paths: dict[str, dict[str, Any]] = app.openapi().get("paths", {})
    if path in paths:  # a fixed path wins over a template: /subjects/enrolled, not /{id}
        return sorted(method.upper() for method in paths[path])
    methods = {
        method.upper()
        for template, operations in paths.items()
        if _path_regex(template).match(path)
        for method in operations
    }
    return sorted(methods)


def install(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()  # FastAPI's own, cached on the app
            schemas = document.get("components", {}).get("schemas", {})
            for name, rule in BODY_RULES.items():
                if name in schemas:
                    schemas[name].update(rule)
            _document_path_parameters(document)
            paging.document(app, document)
        return app.openapi_schema or generate()

    app.openapi = openapi  # type: ignore[method-assign]
