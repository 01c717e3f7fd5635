"""CPU per request of strawberry's extension set-up alone: the schema's extensions built and
the four stages' hook lists looked up, with strawberry's runner and with the schema's own
(gateway/graphql/hooks.py). No database, no HTTP: the work gateway/graphql/hooks.py removes.

    taskset -c 1 python -m bench.extension_hooks
"""

from __future__ import annotations

import time

from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.types import ExecutionContext

from gateway.config import Settings
from gateway.graphql.hooks import ClassifiedHooksRunner
from gateway.graphql.schema import build_schema

N = 20_000


def main() -> None:
    schema = build_schema(Settings(env="test"))
    context = ExecutionContext(query="{ __typename }", schema=schema, allowed_operations=())
    for _ in range(3):
        for runner in (SchemaExtensionsRunner, ClassifiedHooksRunner):
            started = time.process_time()
            for _ in range(N):
                stages = runner(context, schema.get_extensions())
                stages.operation(), stages.parsing(), stages.validation(), stages.executing()
            per_request = (time.process_time() - started) / N * 1e6
            print(f"{runner.__name__}: {per_request:.1f} µs per request")


if __name__ == "__main__":
    main()
