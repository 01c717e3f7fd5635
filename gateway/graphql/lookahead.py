"""Look-ahead: which fields a query selects below the current one, so that a list resolver
can read in its own statement what would otherwise take a DataLoader batch per field."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from strawberry.types.nodes import SelectedField, Selection


def _fields(selections: Iterable[Selection]) -> Iterator[SelectedField]:
    for selection in selections:
        if isinstance(selection, SelectedField):
            yield selection
        else:  # a fragment spread or inline fragment: its fields count as selected
            yield from _fields(selection.selections)


def node_fields(info: Any) -> set[str]:
    """Names (as spelled in the schema) selected under `nodes` of the current connection field.
    @skip/@include are not evaluated: a skipped field only means a little extra reading."""
    names: set[str] = set()
    for nodes in _fields(s for f in info.selected_fields for s in f.selections):
        if nodes.name == "nodes":
            names.update(f.name for f in _fields(nodes.selections))
    return names
