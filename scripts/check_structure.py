"""House-style checks on the hand-written code (run by ``tests/test_structure.py`` and by hand).

- no import cycles among hand-written modules (imports inside functions count; ``TYPE_CHECKING``
  blocks do not, since they never run);
- layers: a server package (``session_manager``, ``executor``, ``object_cache``) imports neither
  another server package nor an underscore module of ``flamepy``; ``flamepy`` imports no server;
- no module over ``MAX_MODULE_LINES`` lines, no function over ``MAX_FUNCTION_LINES`` lines.

``python scripts/check_structure.py`` prints every finding and exits 1 when there is one.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("flamepy", "session_manager", "executor", "object_cache")
SERVERS = ("session_manager", "executor", "object_cache")
GENERATED = ("flamepy.proto",)
SIZE_CHECKED = (*PACKAGES, "bench", "examples", "scripts")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    is_package: bool


def _module_name(path: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


def iter_modules(tops: tuple[str, ...]) -> Iterator[Module]:
    for top in tops:
        for path in sorted((ROOT / top).rglob("*.py")):
            name, is_pkg = _module_name(path)
            if any(name == g or name.startswith(g + ".") for g in GENERATED) or "/.venv" in str(path):
                continue
            yield Module(name, path, is_pkg)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def imported_names(mod: Module, known: set[str]) -> set[str]:
    """Hand-written modules ``mod`` imports (``from pkg import sub`` counts as ``pkg.sub``)."""
    tree = ast.parse(mod.path.read_text(), str(mod.path))
    out: set[str] = set()
    for node in _import_nodes(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
            continue
        base = node.module or ""
        if node.level:
            pkg = mod.name if mod.is_package else mod.name.rpartition(".")[0]
            for _ in range(node.level - 1):
                pkg = pkg.rpartition(".")[0]
            base = f"{pkg}.{base}" if base else pkg
        subs = {f"{base}.{a.name}" for a in node.names}
        out.update(subs & known)
        if not subs <= known:  # names defined in ``base`` itself, not only its submodules
            out.add(base)
    return {name for name in out if name in known and name != mod.name}


def import_graph() -> dict[str, set[str]]:
    mods = list(iter_modules(PACKAGES))
    known = {m.name for m in mods}
    return {m.name: imported_names(m, known) for m in mods}


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    cycles: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    comp.append(top)
                    if top == node:
                        break
                if len(comp) > 1:
                    cycles.append(sorted(comp))
    return cycles


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    out = []
    for mod, deps in sorted(graph.items()):
        top = mod.split(".")[0]
        for dep in sorted(deps):
            dep_top = dep.split(".")[0]
            if top in SERVERS and dep_top in SERVERS and dep_top != top:
                out.append(f"{mod} imports {dep}: servers do not import each other")
            if top in SERVERS and dep_top == "flamepy" and any(p.startswith("_") for p in dep.split(".")):
                out.append(f"{mod} imports {dep}: servers use flamepy's public modules (flamepy.common)")
            if top == "flamepy" and dep_top in SERVERS:
                out.append(f"{mod} imports {dep}: the SDK does not import a server package")
    return out


def size_violations() -> list[str]:
    out = []
    for mod in iter_modules(SIZE_CHECKED):
        text = mod.path.read_text()
        lines = text.count("\n")
        rel = mod.path.relative_to(ROOT)
        if lines > MAX_MODULE_LINES:
            out.append(f"{rel}: {lines} lines (at most {MAX_MODULE_LINES})")
        for node in ast.walk(ast.parse(text, str(rel))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    where = f"{rel}:{node.lineno}: {node.name}()"
                    out.append(f"{where} is {length} lines (at most {MAX_FUNCTION_LINES})")
    return out


def findings() -> list[str]:
    graph = import_graph()
    out = [f"import cycle: {' <-> '.join(c)}" for c in find_cycles(graph)]
    return out + layer_violations(graph) + size_violations()


def main() -> int:
    found = findings()
    for line in found:
        print(line)
    print(f"{len(found)} finding(s)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
