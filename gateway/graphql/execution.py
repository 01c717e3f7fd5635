"""graphql-core's field execution with a fast path for plain leaf fields.

For a field without a resolver (an attribute such as `User.username`), graphql-core still
looks the field up, builds a GraphQLResolveInfo, calls strawberry's basic resolver (which
ignores the info and calls `default_resolver(source, python_name)`), and completes the value
through the generic `complete_value`. Here a field that strawberry resolves with its basic
resolver, that takes no argument and whose type is a scalar or an enum (nullable or not)
reads the attribute directly and completes it as `complete_value` would for a leaf: the same
values, the same errors, through the same `handle_field_error`. Any other field, and every
field of an operation with resolver middleware (the tracing extension's `resolve` hook), goes
through graphql-core unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from graphql import (
    ExecutionResult,
    FieldNode,
    GraphQLField,
    GraphQLLeafType,
    GraphQLObjectType,
    Undefined,
    get_nullable_type,
    is_leaf_type,
    is_non_null_type,
)
from graphql.execution.collect_fields import FieldDetailsList
from graphql.execution.executor import to_nodes
from graphql.pyutils import AwaitableOrValue, Path, UndefinedType
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types.field import StrawberryField


class _Leaf(NamedTuple):
    read: Callable[[Any, str], object]
    name: str
    type: GraphQLLeafType
    non_null: bool


# Each GraphQLField's plan, kept on the field itself: GraphQLField defines __eq__ and so is
# not hashable, and the plan lives exactly as long as the schema that owns the field.
_PLAN = "_gateway_leaf_plan"
_UNPLANNED = object()


def _is_basic_resolver(resolve: object) -> bool:
    """Strawberry's resolver for a field with no resolver, no extension and no exception
    handler: the one that calls `field.get_result(source, info=None, args=[], kwargs={})`."""
    qualname = getattr(resolve, "__qualname__", "")
    return getattr(resolve, "_is_default", False) is True and qualname.endswith(
        "from_resolver.<locals>._get_basic_result"
    )


def _plan(field_def: GraphQLField) -> _Leaf | None:
    strawberry_field = field_def.extensions.get("strawberry-definition")
    if (
        not isinstance(strawberry_field, StrawberryField)
        or not strawberry_field.is_basic_field
        or not _is_basic_resolver(field_def.resolve)
        or field_def.args
    ):
        return None
    leaf_type = get_nullable_type(field_def.type)
    if not is_leaf_type(leaf_type):
        return None
    return _Leaf(
        strawberry_field.default_resolver,
        strawberry_field.python_name,
        leaf_type,
        is_non_null_type(field_def.type),
    )


def leaf_plan(field_def: GraphQLField) -> _Leaf | None:
    plan = field_def.__dict__.get(_PLAN, _UNPLANNED)
    if plan is _UNPLANNED:
        plan = _plan(field_def)
        setattr(field_def, _PLAN, plan)
    return plan


class GatewayExecutionContext(StrawberryGraphQLCoreExecutionContext):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        manager = self.middleware_manager
        # A resolver middleware must see every field, and with its GraphQLResolveInfo.
        self._leaf_fast_path = manager is None or not manager.middlewares

    def build_response(self, data: dict[str, Any] | None) -> Any:
        """graphql-core's response; then the executor lets go of its async helpers. It keeps
        them as bound methods of itself, a reference cycle that left every request's
        executor, context, request and response for the cycle collector alone to free (68
        objects a profile request): under load, young collections of 4 ms and middle ones of
        40-60 ms, GraphQL's p99 tail. Nothing runs on this executor after its response (an
        incremental one, @defer/@stream, keeps its helpers: it goes on after it)."""
        response = super().build_response(data)
        if isinstance(response, ExecutionResult):
            del self.async_helpers
        return response

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> AwaitableOrValue[Any] | UndefinedType:
        if self._leaf_fast_path:
            node: FieldNode = field_details_list[0].node
            field_def = self.schema.get_field(parent_type, node.name.value)
            if field_def is not None and not node.arguments:
                leaf = leaf_plan(field_def)
                if leaf is not None:
                    return self._execute_leaf(
                        leaf,
                        field_def,
                        parent_type,
                        source,
                        field_details_list,
                        path,
                        position_context,
                    )
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )

    def _execute_leaf(
        self,
        leaf: _Leaf,
        field_def: GraphQLField,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> Any:
        """graphql-core's execute_field followed by complete_value, for a leaf field."""
        try:
            result = leaf.read(source, leaf.name)
            if self.is_awaitable(result):
                # A lazily fetched attribute (gateway.graphql.deferred): the generic path,
                # which is the only one that needs the resolve info.
                info = self.build_resolve_info(
                    field_def, to_nodes(field_details_list), parent_type, path
                )
                return self.complete_awaitable_value(
                    field_def.type, field_details_list, info, path, result, position_context
                )
            if isinstance(result, Exception):
                raise result
            if result is None or result is Undefined:
                if leaf.non_null:
                    msg = (
                        "Cannot return null for non-nullable field"
                        f" {parent_type}.{field_details_list[0].node.name.value}."
                    )
                    raise TypeError(msg)
                return None
            return self.complete_leaf_value(leaf.type, result)
        except Exception as raw_error:
            self.handle_field_error(raw_error, field_def.type, field_details_list, path)
            return None
