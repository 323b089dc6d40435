"""House style, checked: no import cycles, layers point one way, small modules and functions."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_SPEC = importlib.util.spec_from_file_location(
    "check_structure", Path(__file__).resolve().parent.parent / "scripts" / "check_structure.py"
)
assert _SPEC and _SPEC.loader
check = importlib.util.module_from_spec(_SPEC)
sys.modules[_SPEC.name] = check  # dataclasses look their module up there
_SPEC.loader.exec_module(check)


def test_no_import_cycles() -> None:
    assert check.find_cycles(check.import_graph()) == []


def test_cycle_finder_sees_a_cycle() -> None:
    assert check.find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_layers_point_one_way() -> None:
    assert check.layer_violations(check.import_graph()) == []


def test_layer_rule_catches_a_server_importing_another() -> None:
    graph = {"object_cache.servicer": {"session_manager.grpc_errors", "flamepy._convert"}}
    assert len(check.layer_violations(graph)) == 2


def test_modules_and_functions_are_small() -> None:
    assert check.size_violations() == []
