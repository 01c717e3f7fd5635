"""The import graph of gateway/: arrows point one way.

Every `import` and `from ... import` of a gateway module counts, those under TYPE_CHECKING
included (a cycle hidden behind TYPE_CHECKING is still a design cycle). The only cycle allowed
is the GraphQL type graph itself (User -> Subject -> User ...), which strawberry resolves."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "gateway"
TYPE_GRAPH = re.compile(r"gateway\.\w+\.types$|gateway\.graphql\.node$")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base]) if base else ".".join(anchor)
                targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def external_imports() -> dict[str, set[str]]:
    """The top-level names of the non-gateway packages each gateway module imports (imports
    inside functions and under TYPE_CHECKING included)."""
    found: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.partition(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names.add(node.module.partition(".")[0])
        found[module_name(path)] = names - {"gateway"}
    return found


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    """Every gateway module that importing `start` loads (parent packages included)."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        parents = [name.rsplit(".", n)[0] for n in range(1, name.count(".") + 1)]
        todo.extend([*graph[name], *(p for p in parents if p in graph)])
    return seen


def cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    counter = 0
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(component)
    return found


def test_the_graph_is_read() -> None:
    graph = import_graph()
    assert "gateway.runtime" in graph["gateway.app"]
    assert "gateway.sessions.service" in graph["gateway.sessions.types"]


def test_no_import_cycle_outside_the_graphql_type_graph() -> None:
    bad = [c for c in cycles(import_graph()) if not all(TYPE_GRAPH.search(m) for m in c)]
    assert bad == [], f"import cycles: {[sorted(c) for c in bad]}"


def test_nothing_imports_the_composition_root() -> None:
    """gateway/app.py is loaded by name (`gateway.app:create_app`); the container that faces
    need lives in gateway/runtime.py."""
    importers = sorted(m for m, deps in import_graph().items() if "gateway.app" in deps)
    assert importers == []


WEB_FRAMEWORKS = frozenset({"starlette", "fastapi", "strawberry"})


def test_core_and_adapters_import_no_web_framework() -> None:
    """Core (config, db, errors) and the infrastructure adapters are usable without a face:
    neither they nor anything they import (transitively) imports a web framework."""
    graph = import_graph()
    external = external_imports()
    roots = [
        "gateway.db",
        "gateway.config",
        "gateway.errors",
        "gateway.policy",
        "gateway.ratelimit",
        "gateway.statements",
    ]
    roots += sorted(m for m in graph if m.startswith("gateway.adapters."))
    bad = {
        f"{root} -> {module}: {sorted(external[module] & WEB_FRAMEWORKS)}"
        for root in roots
        for module in reachable(graph, root)
        if external[module] & WEB_FRAMEWORKS
    }
    assert sorted(bad) == []


def test_the_framework_check_sees_a_web_import() -> None:
    external = external_imports()
    graph = import_graph()
    assert "starlette" in external["gateway.observability.metrics_endpoint"]
    assert "gateway.observability.metrics" in reachable(graph, "gateway.db")
    assert "gateway.adapters.tutor_client" in graph


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]
