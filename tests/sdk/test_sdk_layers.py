"""The SDK's seam holds: above the transport, no module imports generated protobuf code or grpc."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import flamepy

ROOT = Path(flamepy.__file__).resolve().parent
ABOVE_THE_SEAM = [
    "session.py",
    "connection.py",
    "client.py",
    "core/__init__.py",
    "core/types.py",
    "core/client.py",
    "core/cache.py",
    "service/__init__.py",
    "service/client.py",
    "service/instance.py",
    "util/__init__.py",
    "_dispatch.py",
    "dispatch_state.py",
    "_outcome.py",
    "transport/base.py",
    "transport/memory.py",
    "transport/memory_streams.py",
    "transport/per_task.py",
    *(str(p.relative_to(ROOT)) for p in sorted((ROOT / "cache").glob("*.py"))),
    *(str(p.relative_to(ROOT)) for p in sorted((ROOT / "runner").glob("*.py"))),
]
# flamepy/core/service.py is the service runtime: it serves flame.v1.Instance over gRPC itself.


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("module", ABOVE_THE_SEAM)
def test_no_protobuf_or_grpc_above_the_transport(module: str) -> None:
    bad = sorted(
        name
        for name in _imports(ROOT / module)
        if name == "grpc"
        or name.startswith(("grpc.", "flamepy.proto"))
        or name.endswith(("_pb2", "_pb2_grpc"))
    )
    assert bad == [], f"{module} imports {bad}"
