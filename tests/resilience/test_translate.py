"""Database failures reach clients as 503/400, never 500: by SQLSTATE, not only by wording."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import DBAPIError

from gateway.errors import InvalidInput, ServiceUnavailable, translate


class DriverError(Exception):
    def __init__(self, message: str, sqlstate: str | None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("sqlstate", "message"),
    [
        ("57P03", "the database system is shutting down"),
        ("57P03", "the database system is starting up"),
        ("57P01", "terminating connection due to administrator command"),
        ("57P02", "terminating connection due to crash of another server process"),
        ("08006", "server closed the connection unexpectedly"),
        ("08001", "could not establish"),
        ("53300", "sorry, too many clients already"),
        ("57014", "canceling statement due to statement timeout"),
        (None, "database is locked"),
        ("40P01", "deadlock detected"),
        ("40001", "could not serialize access due to concurrent update"),
    ],
)
def test_unavailable_database(sqlstate: str | None, message: str) -> None:
    error = translate(DBAPIError("SELECT 1", {}, DriverError(message, sqlstate)))
    assert isinstance(error, ServiceUnavailable), (sqlstate, message)
    assert error.status == 503


def test_nul_in_text_is_bad_input() -> None:
    orig = DriverError('invalid byte sequence for encoding "UTF8": 0x00', "22021")
    assert isinstance(translate(DBAPIError("INSERT", {}, orig)), InvalidInput)


def test_other_database_errors_are_not_translated() -> None:
    orig = DriverError('relation "nope" does not exist', "42P01")
    assert translate(DBAPIError("SELECT", {}, orig)) is None
