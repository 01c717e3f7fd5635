"""Issue 13, item 2: no expensive step before the cheap bounds and the rate limit.

graphql-core's OverlappingFieldsCanBeMergedRule compares fields of one response key pairwise,
so `me { username }` repeated a few hundred times cost 0.3-0.5 s of event-loop CPU, even for a
caller that was then told RATE_LIMITED. Instead of timing, these tests count how often that
rule is instantiated (graphql-core builds one instance per validated document)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from graphql.validation.rules.overlapping_fields_can_be_merged import (
    OverlappingFieldsCanBeMergedRule,
)

from tests.conftest import Api
from tests.ops.conftest import AppFactory


class RuleCalls:
    count = 0


@pytest.fixture
def overlapping_rule(monkeypatch: pytest.MonkeyPatch) -> Iterator[RuleCalls]:
    calls = RuleCalls()
    original = OverlappingFieldsCanBeMergedRule.__init__

    def counting(self: Any, *args: Any, **kwargs: Any) -> None:
        calls.count += 1
        original(self, *args, **kwargs)

    monkeypatch.setattr(OverlappingFieldsCanBeMergedRule, "__init__", counting)
    yield calls


def repeated(times: int) -> str:
    """The probe's document: one unique alias (no cache answers it), then the same field."""
    return f"{{ u{uuid.uuid4().hex}: me {{ username }}" + " me { username }" * times + " }"


def only_code(body: dict[str, Any]) -> str:
    assert body.get("data") is None, body
    (error,) = body["errors"]
    code: str = error["extensions"]["code"]
    return code


@pytest.mark.parametrize(("times", "code"), [(300, "TOO_MANY_FIELDS"), (60, "FIELD_REPEATED")])
async def test_repeated_fields_are_refused_without_validation(
    api: Api, overlapping_rule: RuleCalls, times: int, code: str
) -> None:
    body = await api.gql(repeated(times))
    assert only_code(body) == code
    assert overlapping_rule.count == 0
    # The same rule does run for an ordinary (uncached) document: the counter sees it.
    body = await api.gql(f"{{ u{uuid.uuid4().hex}: __typename }}")
    assert list(body["data"].values()) == ["Query"]
    assert overlapping_rule.count == 1


async def test_a_rate_limited_document_is_never_validated(
    make_api: AppFactory, overlapping_rule: RuleCalls
) -> None:
    async with make_api(rate_limit_default="2/minute") as api:
        for _ in range(2):
            assert (await api.gql("{ __typename }")) == {"data": {"__typename": "Query"}}
        validated = overlapping_rule.count
        body = await api.gql(repeated(15))  # within every static bound
        assert only_code(body) == "RATE_LIMITED"
        assert body["errors"][0]["extensions"]["retryAfter"] >= 1
        assert overlapping_rule.count == validated
        # Refused by a static bound: still counted, still not validated.
        assert only_code(await api.gql(repeated(300))) == "RATE_LIMITED"
        assert overlapping_rule.count == validated


async def test_a_document_refused_by_a_bound_still_counts(make_api: AppFactory) -> None:
    async with make_api(rate_limit_default="2/minute") as api:
        for _ in range(2):
            assert only_code(await api.gql(repeated(300))) == "TOO_MANY_FIELDS"
        assert only_code(await api.gql("{ __typename }")) == "RATE_LIMITED"
