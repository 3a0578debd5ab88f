"""The dispatch service's import layers, read from the source with ``ast`` (nothing of the app is imported).

Every import counts, at the top of a module or inside a function: a function-local import hides a cycle from
the interpreter, not from this test. The case core (``case/``) must not import ``sla/``, ``duplicate/`` or
``handoff/`` (they follow its transitions through ``case/hooks.py`` listeners, installed by ``wiring.py``), and
no module of ``services/dispatch`` may take part in an import cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DISPATCH = ROOT / "services" / "dispatch"
PACKAGE = "services.dispatch"
#: Folders that react to the core's transitions and so sit above ``case/``.
ABOVE_CASE = ("sla", "duplicate", "handoff")


def _modules() -> dict[str, Path]:
    modules = {}
    for path in sorted(DISPATCH.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The module of ``services.dispatch`` that importing ``name`` loads (``a.b.c`` may name ``c`` in ``a.b``)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def import_graph() -> dict[str, dict[str, int]]:
    """module → {imported dispatch module: line of the first such import}, top-level and function-level."""
    modules = _modules()
    graph: dict[str, dict[str, int]] = {name: {} for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from the module's package, up level - 1
                    anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                    base = f"{anchor}.{base}" if base else anchor
                targets = [f"{base}.{alias.name}" for alias in node.names]
            else:
                continue
            for target in targets:
                resolved = _resolve(target, modules)
                if resolved is not None and resolved != name:
                    graph[name].setdefault(resolved, node.lineno)
    return graph


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _in(module: str, folder: str) -> bool:
    prefix = f"{PACKAGE}.{folder}"
    return module == prefix or module.startswith(prefix + ".")


def test_the_graph_sees_the_dispatch_modules_and_their_imports() -> None:
    graph = import_graph()
    assert f"{PACKAGE}.case.flows" in graph
    assert f"{PACKAGE}.case.state" in graph[f"{PACKAGE}.case.flows"]
    assert f"{PACKAGE}.case.flows" in graph[f"{PACKAGE}.sla.service"]


def test_case_imports_neither_sla_nor_duplicate_nor_handoff() -> None:
    graph = import_graph()
    wrong = [
        f"{module} imports {target} (line {line})"
        for module, targets in graph.items()
        if _in(module, "case")
        for target, line in targets.items()
        if any(_in(target, folder) for folder in ABOVE_CASE) or target in (f"{PACKAGE}.opening", f"{PACKAGE}.wiring")
    ]
    assert not wrong, "case/ is the core; what follows a transition reacts through case/hooks.py:\n" + "\n".join(wrong)


def test_case_service_does_not_import_the_flows_above_it() -> None:
    assert f"{PACKAGE}.case.flows" not in import_graph()[f"{PACKAGE}.case.service"]


def test_no_import_cycle_in_dispatch() -> None:
    graph = import_graph()
    found = cycles(graph)
    lines = [f"  {a} -> {b} (line {graph[a][b]})" for group in found for a in group for b in group if b in graph[a]]
    assert not found, "import cycles among services/dispatch modules:\n" + "\n".join(lines)


def test_cycles_finds_a_cycle_hidden_in_a_function() -> None:
    graph = {"a": {"b": 1}, "b": {"c": 3}, "c": {"a": 12}, "d": {"a": 1}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b": 1}, "b": {}}) == []
