"""Parsed documents cached by query text, with what requests derive from them memoised.

A cached document is the same object on every request, so what the extensions compute from it
alone (its validation errors, its static measure, its root fields, its operation's name) is
computed once and kept beside it. Lookups go by the document's identity: graphql-core's AST
nodes are frozen dataclasses whose hash walks the whole tree, so keying a cache by the document
itself re-hashes every node on every request.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

from graphql import DocumentNode, OperationDefinitionNode, parse

MAX_DOCUMENTS = 512
# Longer texts (a comment or a string can fill a 1 MB body within the token limit) are parsed
# without the cache, so the cache stays a few MB at most instead of 512 MB.
CACHED_QUERY_CHARS = 16_384


class Parsed:
    __slots__ = ("derived", "document")

    def __init__(self, document: DocumentNode) -> None:
        self.document = document
        self.derived: dict[Hashable, Any] = {}


_by_text: OrderedDict[tuple[str, int], Parsed] = OrderedDict()
_by_identity: dict[int, Parsed] = {}


def parse_document(query: str, max_tokens: int) -> DocumentNode:
    """graphql-core's parse, cached for texts up to CACHED_QUERY_CHARS (a syntax error raises
    each time: only documents are cached)."""
    if len(query) > CACHED_QUERY_CHARS:
        return parse(query, max_tokens=max_tokens)
    key = (query, max_tokens)
    found = _by_text.get(key)
    if found is not None:
        _by_text.move_to_end(key)
        return found.document
    parsed = Parsed(parse(query, max_tokens=max_tokens))
    _by_text[key] = parsed
    _by_identity[id(parsed.document)] = parsed
    while len(_by_text) > MAX_DOCUMENTS:
        _, evicted = _by_text.popitem(last=False)
        _by_identity.pop(id(evicted.document), None)
    return parsed.document


def derived(document: DocumentNode | None) -> dict[Hashable, Any] | None:
    """The memo of a cached document (None for any other: compute without keeping). The entry
    holds the document, so its id cannot be reused while the entry exists."""
    if document is None:
        return None
    found = _by_identity.get(id(document))
    return found.derived if found is not None and found.document is document else None


def select_operation(
    document: DocumentNode, operation_name: str | None
) -> OperationDefinitionNode | None:
    """The operation a request runs: the named one, or the only one when no name is given
    (None when there is no such operation, or several and no name)."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is None:
        return operations[0] if len(operations) == 1 else None
    return next((o for o in operations if o.name and o.name.value == operation_name), None)
