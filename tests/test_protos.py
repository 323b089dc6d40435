"""The generated code matches protos/, and the descriptors a flame.v1 peer sees are the contract's."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from flamepy.proto import frontend_pb2, shim_pb2, types_pb2

ROOT = Path(__file__).resolve().parent.parent


def test_generated_code_has_not_drifted_from_protos() -> None:
    pytest.importorskip("grpc_tools")
    spec = importlib.util.spec_from_file_location("gen_protos", ROOT / "scripts" / "gen_protos.py")
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    assert gen.check() == 0, "flamepy/proto is stale: run `make protos`"


def test_file_names_and_package_are_the_wire_contract() -> None:
    for mod, name in ((types_pb2, "types.proto"), (frontend_pb2, "frontend.proto"), (shim_pb2, "shim.proto")):
        assert mod.DESCRIPTOR.name == name
        assert mod.DESCRIPTOR.package == "flame.v1"
    assert frontend_pb2.DESCRIPTOR.services_by_name["Frontend"].full_name == "flame.v1.Frontend"
    assert shim_pb2.DESCRIPTOR.services_by_name["Instance"].full_name == "flame.v1.Instance"


def fields(message) -> dict[str, tuple[int, bool]]:
    return {f.name: (f.number, f.has_presence) for f in message.DESCRIPTOR.fields}


def test_field_numbers_and_presence() -> None:
    spec = fields(types_pb2.SessionSpec)
    assert spec == {
        "application": (2, False),
        "common_data": (4, True),
        "min_instances": (5, False),
        "max_instances": (6, True),
        "batch_size": (7, False),
        "priority": (8, False),
        "resreq": (9, True),
    }
    assert 3 not in {f.number for f in types_pb2.ExecutorSpec.DESCRIPTOR.fields}
    assert fields(types_pb2.SessionStatus)["cancelled"] == (9, False)
    assert fields(types_pb2.SessionStatus)["events"][0] == 8
    assert fields(types_pb2.TaskSpec) == {"session_id": (2, False), "input": (3, True), "output": (4, True)}
    assert fields(types_pb2.ApplicationSpec)["installer"] == (13, True)
    assert fields(shim_pb2.TaskContext)["input"] == (4, True)
    assert fields(frontend_pb2.OpenSessionRequest)["session"] == (2, True)
    assert types_pb2.TaskState.Value("Cancelled") == 4
    assert types_pb2.ExecutorState.Value("ExecutorReleased") == 7
