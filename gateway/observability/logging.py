"""Logs: readable by default, one JSON object per line when GATEWAY_LOG_JSON is set; every
line carries the id of the request it was written for."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

request_id: ContextVar[str] = ContextVar("request_id", default="-")
# Set by gateway.observability.tracing when tracing is on: the current trace and span ids.
trace_ids: Callable[[], dict[str, str]] | None = None

# Accepted from clients as is; anything else (too long, odd characters) is replaced so a
# caller cannot forge log lines or bloat them.
_VALID_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "request_id"}


def new_request_id(incoming: str | None) -> str:
    if incoming and _VALID_ID.match(incoming):
        return incoming
    return uuid.uuid4().hex


class RequestIdFilter(logging.Filter):
    """Adds `record.request_id` (the current request's id, or "-") and, with tracing on, the
    current `trace_id` and `span_id` (read when the line is written, inside the span)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        if trace_ids is not None:
            record.__dict__.update(trace_ids())
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", request_id.get()),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


READABLE = "%(asctime)s %(levelname)-7s [%(request_id)s] %(name)s: %(message)s"


def make_handler(json_logs: bool, stream: Any = None) -> logging.Handler:
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if json_logs else logging.Formatter(READABLE))
    return handler


def logging_config(level: str, json_logs: bool) -> dict[str, Any]:
    """A dictConfig for uvicorn (`log_config=`): its loggers and ours share one handler,
    so server messages carry request ids and follow the JSON setting too."""
    formatter: dict[str, Any] = (
        {"()": f"{__name__}.JsonFormatter"} if json_logs else {"format": READABLE}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": f"{__name__}.RequestIdFilter"}},
        "formatters": {"default": formatter},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "filters": ["request_id"],
                "formatter": "default",
            }
        },
        "root": {"handlers": ["default"], "level": level.upper()},
        "loggers": {
            "uvicorn": {"handlers": [], "level": level.upper(), "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            "uvicorn.access": {"handlers": [], "propagate": True},
            "alembic": {"level": "WARNING"},
        },
    }
