"""Static limits checked before a GraphQL operation runs: tokens, depth, aliases, cost, field
count and field repetitions.

One extension owns parsing and validation (both LRU-cached) so that an over-limit document is
refused before graphql-core's validation rules spend time on it. The order per request is:
parse (token-limited) -> rate limit (GraphQLRateLimit.on_validate, listed before this
extension) -> these static limits -> validation -> execution. The field count and the
repetition bound exist for graphql-core's OverlappingFieldsCanBeMergedRule, which compares
fields of one response key pairwise: `me { username }` x300 cost ~0.5 s of CPU.

Fragments are expanded while measuring (memoised per fragment, so a "billion laughs" document
of nested spreads is measured in linear time), and a cycle is cut rather than followed
(validation then reports it).

Cost model: every field counts 1 each time it may be resolved. A field with a `first`/`limit`
argument sets the length of the list it returns (or, for a connection, of its `edges`/`nodes`),
capped at the page-size cap so that `first: 100000` is refused by the resolver with
BAD_USER_INPUT instead of here; when the argument is absent its schema default is used. A list
without such an argument counts as a full page. Nested lists multiply. Introspection fields cost
nothing and `ofType` chains add no depth, so GraphiQL's query fits; production turns
introspection off.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    NoSchemaIntrospectionCustomRule,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    specified_rules,
)
from graphql.language import ValueNode
from strawberry.extensions import SchemaExtension

from gateway import policy
from gateway.config import Settings
from gateway.graphql.documents import derived, parse_document, select_operation

PAGE_ARGUMENTS = ("first", "limit")
_TOKEN_LIMIT_MESSAGE = "tokens. Parsing aborted"


@dataclass(frozen=True, slots=True)
class Measure:
    depth: int = 0
    aliases: int = 0
    cost: int = 0
    fields: int = 0  # field selections once fragments are expanded, introspection included
    repeats: int = 0  # the most times one response key appears in one selection set

    def __add__(self, other: Measure) -> Measure:
        return Measure(
            max(self.depth, other.depth),
            self.aliases + other.aliases,
            self.cost + other.cost,
            self.fields + other.fields,
            max(self.repeats, other.repeats),
        )

    def repeating(self, repeats: int) -> Measure:
        return replace(self, repeats=max(self.repeats, repeats))


_NOTHING = Measure()


class _Walker:
    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        variables: Mapping[str, Any],
        page_cap: int,
    ) -> None:
        self.schema = schema
        self.page_cap = page_cap
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.variables: dict[str, Any] = {}
        for definition in operation.variable_definitions or ():
            name = definition.variable.name.value
            value = variables.get(name)
            if value is None and isinstance(definition.default_value, IntValueNode):
                value = int(definition.default_value.value)
            self.variables[name] = value
        self._memo: dict[tuple[str, int | None], Measure] = {}
        self._active: set[str] = set()
        self._key_memo: dict[str, Counter[str]] = {}

    def repeats(self, node: SelectionSetNode) -> int:
        """How often the most repeated response key occurs in this set as graphql-core's
        overlapping-fields rule sees it (fragments merged): the rule compares those pairwise."""
        return max(self._keys(node, set()).values(), default=0)

    def _keys(self, node: SelectionSetNode, active: set[str]) -> Counter[str]:
        keys: Counter[str] = Counter()
        for selection in node.selections:
            if isinstance(selection, FieldNode):
                keys[(selection.alias or selection.name).value] += 1
            elif isinstance(selection, InlineFragmentNode):
                keys.update(self._keys(selection.selection_set, active))
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in active:
                    continue
                if name not in self._key_memo:
                    active.add(name)
                    self._key_memo[name] = self._keys(fragment.selection_set, active)
                    active.discard(name)
                keys.update(self._key_memo[name])
        return keys

    def selections(
        self, node: SelectionSetNode, parent: GraphQLNamedType | None, page: int | None
    ) -> Measure:
        total = _NOTHING
        for selection in node.selections:
            if isinstance(selection, FieldNode):
                total += self.field(selection, parent, page)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = self.schema.get_type(condition.name.value) if condition else parent
                total += self.selections(selection.selection_set, target, page)
            elif isinstance(selection, FragmentSpreadNode):
                total += self.spread(selection.name.value, page)
        return total

    def spread(self, name: str, page: int | None) -> Measure:
        key = (name, page)
        if key in self._memo:
            return self._memo[key]
        fragment = self.fragments.get(name)
        if fragment is None or name in self._active:
            return _NOTHING  # unknown or cyclic: validation reports it
        self._active.add(name)
        try:
            target = self.schema.get_type(fragment.type_condition.name.value)
            measure = self.selections(fragment.selection_set, target, page)
        finally:
            self._active.discard(name)
        self._memo[key] = measure
        return measure

    def field(self, node: FieldNode, parent: GraphQLNamedType | None, page: int | None) -> Measure:
        name = node.name.value
        aliases = 1 if node.alias else 0
        definition = (
            parent.fields.get(name)
            if isinstance(parent, (GraphQLObjectType, GraphQLInterfaceType))
            else None
        )
        if node.selection_set is None:
            introspective = name.startswith("__")
            return Measure(0, aliases, 0 if introspective else 1, 1)
        child_type = get_named_type(definition.type) if definition else None
        is_list = definition is not None and isinstance(
            get_nullable_type(definition.type), GraphQLList
        )
        own_page = self.page_size(node, definition.args if definition else {})
        children = self.selections(node.selection_set, child_type, None if is_list else own_page)
        introspective = name.startswith("__") or (parent is not None and parent.name[:2] == "__")
        length = next((n for n in (own_page, page) if n is not None), self.page_cap)
        length = length if is_list else 1
        return Measure(
            children.depth + (0 if name == "ofType" else 1),
            aliases + children.aliases,
            0 if introspective else 1 + length * children.cost,
            1 + children.fields,
            max(children.repeats, self.repeats(node.selection_set)),
        )

    def page_size(self, node: FieldNode, args: Mapping[str, Any]) -> int | None:
        argument = next((a for a in PAGE_ARGUMENTS if a in args), None)
        if argument is None:
            return None
        given = next((a.value for a in node.arguments or () if a.name.value == argument), None)
        value = self._value(given) if given is not None else args[argument].default_value
        if not isinstance(value, int) or isinstance(value, bool):
            return self.page_cap
        return max(0, min(value, self.page_cap))

    def _value(self, node: ValueNode) -> Any:
        if isinstance(node, IntValueNode):
            return int(node.value)
        if isinstance(node, VariableNode):
            return self.variables.get(node.name.value)
        return None


def measure(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None = None,
    variables: Mapping[str, Any] | None = None,
    *,
    page_cap: int = policy.DEFAULT_MAX_PAGE_SIZE,
) -> Measure:
    """Depth, alias count and cost of the operation that would run, fragments expanded."""
    operation = select_operation(document, operation_name)
    if operation is None:
        return _NOTHING
    walker = _Walker(schema, document, operation, variables or {}, page_cap)
    root = schema.get_root_type(operation.operation)
    found = walker.selections(operation.selection_set, root, None)
    return found.repeating(walker.repeats(operation.selection_set))


def limit_error(code: str, what: str, requested: int, maximum: int) -> GraphQLError:
    return GraphQLError(
        f"Query {what} {requested} exceeds the maximum of {maximum}",
        extensions={"code": code, what: {"requested": requested, "maximum": maximum}},
    )


@dataclass(frozen=True, slots=True)
class Limits:
    max_tokens: int
    max_depth: int
    max_aliases: int
    max_cost: int
    page_cap: int
    max_fields: int = 250
    max_repeats: int = 20

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(
            max_tokens=settings.graphql_max_tokens,
            max_depth=settings.graphql_max_depth,
            max_aliases=settings.graphql_max_aliases,
            max_cost=settings.graphql_max_cost,
            max_fields=settings.graphql_max_fields,
            max_repeats=settings.graphql_max_field_repeats,
            page_cap=settings.max_page_size,
        )

    def check(self, found: Measure) -> GraphQLError | None:
        if found.depth > self.max_depth:
            return limit_error("QUERY_TOO_DEEP", "depth", found.depth, self.max_depth)
        if found.aliases > self.max_aliases:
            return limit_error("TOO_MANY_ALIASES", "aliases", found.aliases, self.max_aliases)
        if found.cost > self.max_cost:
            return limit_error("QUERY_TOO_COMPLEX", "cost", found.cost, self.max_cost)
        if found.fields > self.max_fields:
            return limit_error("TOO_MANY_FIELDS", "fields", found.fields, self.max_fields)
        if found.repeats > self.max_repeats:
            error = limit_error("FIELD_REPEATED", "repeats", found.repeats, self.max_repeats)
            error.message = (
                f"A field is repeated {found.repeats} times in one selection set; "
                f"the maximum is {self.max_repeats}"
            )
            return error
        return None


def _validate(
    schema: GraphQLSchema, document: DocumentNode, rules: tuple[Any, ...]
) -> list[GraphQLError]:
    from strawberry.schema.schema import validate_document

    return validate_document(schema, document, rules)


def _variables_key(
    operation: OperationDefinitionNode | None, variables: Mapping[str, Any]
) -> tuple[object, ...]:
    """What of the variables the measure reads: an int is a page size, anything else counts
    as absent (None: the declared default applies) or as not a number (a full page)."""
    if operation is None or not operation.variable_definitions:
        return ()
    key: list[object] = []
    for definition in operation.variable_definitions:
        value = variables.get(definition.variable.name.value)
        key.append(value if type(value) is int or value is None else _NOT_A_NUMBER)
    return tuple(key)


_NOT_A_NUMBER = "not a number"


class QueryLimits(SchemaExtension):
    """Parse (cached, token-limited), measure against the limits, then validate (cached)."""

    def __init__(
        self, limits: Limits, extra_rules: tuple[type[ASTValidationRule], ...] = ()
    ) -> None:
        self.limits = limits
        self.extra_rules = extra_rules

    @classmethod
    def factory(cls, settings: Settings) -> Callable[[], QueryLimits]:
        limits = Limits.of(settings)
        # Introspection off (production's default): graphql-core's own rule, run here with the
        # others rather than added per request by strawberry's DisableIntrospection extension.
        introspection = settings.graphql_introspection
        if introspection is None:
            introspection = settings.env != "production"
        extra = () if introspection else (NoSchemaIntrospectionCustomRule,)
        return lambda: cls(limits, extra)

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        context.parse_options["max_tokens"] = self.limits.max_tokens
        if context.query is not None:
            try:
                context.graphql_document = parse_document(context.query, self.limits.max_tokens)
            except (GraphQLError, RecursionError):
                pass  # strawberry parses again and turns the failure into an error; labelled below
        yield
        for error in context.pre_execution_errors or ():
            if _TOKEN_LIMIT_MESSAGE in error.message:
                error.message = f"Query has more than {self.limits.max_tokens} tokens"
                error.extensions = {
                    "code": "TOO_MANY_TOKENS",
                    "tokens": {"maximum": self.limits.max_tokens},
                }
            elif isinstance(error.original_error, RecursionError):
                error.message = "Query is nested too deeply"
                error.extensions = {"code": "QUERY_TOO_DEEP"}

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        if context.pre_execution_errors:  # refused already (rate limit): validate nothing
            yield
            return
        document = context.graphql_document
        assert document is not None
        schema = context.schema._schema
        # strawberry runs the first operation when the name is missing; the spec says refuse.
        provided_name = getattr(context, "_provided_operation_name", None)
        operations = sum(isinstance(d, OperationDefinitionNode) for d in document.definitions)
        if provided_name is None and operations > 1:
            context.pre_execution_errors = [
                GraphQLError("Must provide operation name if query contains multiple operations.")
            ]
            yield
            return
        memo = derived(document)
        try:
            found = self._measure(schema, document, context.operation_name, context.variables, memo)
            error = self.limits.check(found)
        except RecursionError:
            error = GraphQLError(
                "Query is nested too deeply", extensions={"code": "QUERY_TOO_DEEP"}
            )
        if error is not None:
            context.pre_execution_errors = [error]
        else:
            rules = (*context.validation_rules, *self.extra_rules)
            if memo is None:
                context.pre_execution_errors = _validate(schema, document, rules)
            else:
                key = _validation_key(schema, rules)
                if key not in memo:
                    memo[key] = _validate(schema, document, rules)
                context.pre_execution_errors = memo[key]
        yield

    def _measure(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        operation_name: str | None,
        variables: Mapping[str, Any] | None,
        memo: dict[Any, Any] | None,
    ) -> Measure:
        """The document's measure; for a cached document, once per operation and page sizes."""
        variables = variables or {}
        if memo is None:
            return measure(
                schema, document, operation_name, variables, page_cap=self.limits.page_cap
            )
        key = self._measure_key(schema, document, operation_name, variables)
        if key not in memo:
            memo[key] = measure(
                schema, document, operation_name, variables, page_cap=self.limits.page_cap
            )
        found: Measure = memo[key]
        return found

    def _measure_key(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        operation_name: str | None,
        variables: Mapping[str, Any],
    ) -> tuple[object, ...]:
        operation = select_operation(document, operation_name)
        variables_key = _variables_key(operation, variables)
        return ("measure", schema, operation_name, variables_key, self.limits.page_cap)

    def passed(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        operation_name: str | None,
        variables: Mapping[str, Any],
    ) -> bool:
        """Whether this cached document has passed the limits (for these variables' page
        sizes) and validation before: read from its memo, nothing computed. (False also for
        a document only this request has seen.)"""
        memo = derived(document)
        if memo is None:
            return False
        found = memo.get(self._measure_key(schema, document, operation_name, variables))
        if found is None or self.limits.check(found) is not None:
            return False
        return memo.get(_validation_key(schema, (*specified_rules, *self.extra_rules))) == []


def _validation_key(schema: GraphQLSchema, rules: tuple[Any, ...]) -> tuple[object, ...]:
    return ("validation", schema, rules)
