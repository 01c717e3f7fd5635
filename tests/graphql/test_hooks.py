"""gateway/graphql/hooks.py: the classified runner enters the same extensions' hooks, in the
same order and of the same kind, as strawberry's own runner, for every lifecycle stage."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.types import ExecutionContext

from gateway.config import Settings
from gateway.graphql.hooks import ClassifiedHooksRunner
from gateway.graphql.schema import build_schema
from gateway.observability import tracing


@pytest.fixture
def memory_provider() -> Iterator[None]:
    """A provider that exports nothing: otherwise the tracing extension would build (and
    install globally, for the rest of the run) one exporting over OTLP to nowhere."""
    provider = TracerProvider()
    tracing.use(provider)
    yield
    tracing.use(None)
    provider.shutdown()


@pytest.mark.usefixtures("memory_provider")
def test_classified_hooks_match_strawberrys() -> None:
    for settings in (Settings(env="test"), Settings(env="test", otel_enabled=True)):
        schema: Any = build_schema(settings)
        extensions = schema.get_extensions()
        context = ExecutionContext(query="{ __typename }", schema=schema, allowed_operations=())
        ours = schema.create_extensions_runner(context, extensions)
        assert isinstance(ours, ClassifiedHooksRunner)
        theirs = SchemaExtensionsRunner(context, extensions)
        for stage in ("operation", "parsing", "validation", "executing"):
            got = [(h.extension, h.is_async) for h in getattr(ours, stage)().hooks]
            expected = [(h.extension, h.is_async) for h in getattr(theirs, stage)().hooks]
            assert got == expected, stage
            assert got, stage  # every stage has hooks in this schema: the check is not empty
