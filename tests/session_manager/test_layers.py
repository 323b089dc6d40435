"""The session manager's layers point one way: transports → broker → core (checked on the imports)."""

from __future__ import annotations

import ast
import functools
import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_NAME = "session_manager_layers_check_structure"
_SPEC = importlib.util.spec_from_file_location(_NAME, ROOT / "scripts" / "check_structure.py")
assert _SPEC and _SPEC.loader
check = sys.modules[_NAME] = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(check)

SM = "session_manager"
TRANSPORTS = {f"{SM}.frontend", f"{SM}.frontend_ext", f"{SM}.backend", f"{SM}.local"}
# the protobuf boundary: transports, the Backend stream handler and its conversion module
PROTO_USERS = TRANSPORTS | {f"{SM}.node_stream", f"{SM}.backend_convert", f"{SM}.server"}  # server: wiring
SANS_IO = {f"{SM}.{m}" for m in ("states", "scheduler", "model", "effects", "events", "clock", "validate")}
SHELL_AND_UP = {
    f"{SM}.{m}"
    for m in (
        "broker",
        "links",
        "tasks_view",
        "persist",
        "watchers",
        "server",
        "node_stream",
        "backend_convert",
        "task_logs",
    )
} | TRANSPORTS


@functools.cache
def _graph() -> dict[str, set[str]]:
    return {m: deps for m, deps in check.import_graph().items() if m.split(".")[0] == SM}


def _is_core(mod: str) -> bool:
    return mod in SANS_IO or mod == f"{SM}.core" or mod.startswith(f"{SM}.core.")


def _external_imports(mod: str) -> set[str]:
    path = ROOT / Path(*mod.split("."))
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
    return out


def test_server_is_imported_only_by_main() -> None:
    users = {m for m, deps in _graph().items() if f"{SM}.server" in deps}
    assert users == {f"{SM}.__main__"}


def test_transports_share_handlers_not_imports() -> None:
    for mod in TRANSPORTS | {f"{SM}.node_stream"}:
        assert not (_graph()[mod] & TRANSPORTS), mod


def test_core_imports_nothing_above_it() -> None:
    graph = _graph()
    core = [m for m in graph if _is_core(m)]
    assert f"{SM}.core.facade" in core and f"{SM}.scheduler" in core
    for mod in core:
        assert not (graph[mod] & SHELL_AND_UP), mod
        assert not any(
            n == "grpc" or n.startswith(("grpc.", "asyncio", "flamepy.proto")) for n in _external_imports(mod)
        ), mod


def test_scheduler_is_pure() -> None:
    assert {d for d in _graph()[f"{SM}.scheduler"] if d.startswith(SM)} <= {f"{SM}.model"}


def test_only_the_boundary_touches_protobuf() -> None:
    for mod in _graph():
        if any(n.startswith("flamepy.proto") for n in _external_imports(mod)):
            assert mod in PROTO_USERS, mod


def test_only_the_public_flamepy_and_no_other_server() -> None:
    for mod in _graph():
        for name in _external_imports(mod):
            top = name.split(".")[0]
            assert top not in ("executor", "object_cache"), (mod, name)
            if top == "flamepy":
                assert not any(part.startswith("_") for part in name.split(".")), (mod, name)
