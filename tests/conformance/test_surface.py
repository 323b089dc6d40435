"""``surface.dump`` and ``surface.compare`` on small hand-made packages (fast, offline, always run).

Each case writes a reference and an "ours" version of a tiny package named ``demo`` and dumps both
with surface.py in a subprocess, exactly as the conformance test does with the two flamepys.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.conformance import surface

HERE = Path(__file__).resolve().parent


def write_package(base: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = base / "demo" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return base


def dump_package(base: Path) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(base)
    proc = subprocess.run(
        [sys.executable, str(HERE / "surface.py"), "dump", "demo"],
        capture_output=True,
        text=True,
        cwd=base,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def diff(tmp_path: Path, reference: dict[str, str], ours: dict[str, str]) -> list[str]:
    ref = dump_package(write_package(tmp_path / "ref", reference))
    mine = dump_package(write_package(tmp_path / "ours", ours))
    return [str(d) for d in surface.compare(ref, mine)]


BASE = {
    "__init__.py": """
        from demo.core import Client, Color, Point, connect
        __all__ = ["Client", "Color", "Point", "connect"]
    """,
    "core.py": """
        import dataclasses, enum
        from typing import Optional

        TIMEOUT = 10
        Id = str

        class Color(enum.IntEnum):
            RED = 0
            BLUE = 1

        @dataclasses.dataclass
        class Point:
            x: int
            y: int = 0

        class Client:
            name: str
            def __init__(self, addr: str, timeout: Optional[float] = None):
                self.name = addr
            @classmethod
            def connect(cls, addr: str) -> "Client":
                return cls(addr)
            def invoke(self, data: bytes, retries: int = 1) -> bytes:
                return data
            @property
            def state(self) -> int:
                return 0
            def __enter__(self):
                return self
            def __exit__(self, *exc):
                return None

        def connect(addr: str, tls=None) -> Client:
            return Client(addr)
    """,
}


def test_identical_packages_have_no_difference(tmp_path: Path) -> None:
    assert diff(tmp_path, BASE, BASE) == []


def test_dump_lists_kinds_signatures_fields_and_members(tmp_path: Path) -> None:
    dumped = dump_package(write_package(tmp_path, BASE))
    core = dumped["modules"]["demo.core"]["names"]
    assert core["TIMEOUT"] == {"kind": "constant", "type": "int", "value": "10"}
    assert core["Id"]["kind"] == "alias"
    assert "Optional" not in core and "dataclasses" not in core  # foreign imports are not surface
    assert core["Color"]["enum_members"] == {"RED": "0", "BLUE": "1"}
    assert [f["name"] for f in core["Point"]["dataclass_fields"]] == ["x", "y"]
    client = core["Client"]
    assert [p["name"] for p in client["signature"]] == ["addr", "timeout"]
    assert client["members"]["connect"]["kind"] == "classmethod"
    assert client["members"]["state"]["kind"] == "property"
    assert [p["name"] for p in client["members"]["invoke"]["signature"]] == ["data", "retries"]
    assert client["protocols"] == ["__enter__", "__exit__"]
    assert client["annotations"] == ["name"]
    assert core["connect"]["signature"][1] == {
        "name": "tls",
        "kind": "POSITIONAL_OR_KEYWORD",
        "has_default": True,
        "default": "None",
    }


def test_generated_and_main_modules_are_listed_not_imported(tmp_path: Path) -> None:
    files = {
        **BASE,
        "proto/__init__.py": "",
        "proto/x_pb2.py": "raise SystemExit(3)\n",
        "__main__.py": "raise SystemExit(4)\n",
    }
    dumped = dump_package(write_package(tmp_path, files))
    assert dumped["modules"]["demo.proto.x_pb2"]["skipped"] == "generated protobuf module"
    assert dumped["modules"]["demo.__main__"]["skipped"].startswith("__main__ module")


def test_lazy_exports_through_module_getattr_resolve(tmp_path: Path) -> None:
    lazy = {
        **BASE,
        "__init__.py": """
            import importlib
            __all__ = ["Client", "Color", "Point", "connect"]
            def __getattr__(name):
                if name in __all__:
                    return getattr(importlib.import_module("demo.core"), name)
                raise AttributeError(name)
        """,
    }
    assert diff(tmp_path, BASE, lazy) == []


def test_extras_in_ours_are_fine(tmp_path: Path) -> None:
    core = BASE["core.py"]
    core = core.replace("            BLUE = 1\n", "            BLUE = 1\n            GREEN = 2\n")
    core = core.replace("retries: int = 1)", "retries: int = 1, *, timeout: float = 5.0)")
    core = core.replace("class Client:\n", "class Extra:\n            pass\n\n        class Client:\n")
    ours = {**BASE, "core.py": core, "more.py": "def helper():\n    pass\n"}
    assert diff(tmp_path, BASE, ours) == []


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "def connect(addr: str, tls=None)",
            "def connect(address: str, tls=None)",
            "demo.connect: parameter 'addr' renamed (ours has 'address' at position 0)",
        ),
        (
            "def connect(addr: str, tls=None)",
            "def connect(tls=None, addr: str = '')",
            "demo.connect: parameter 'addr' reordered: position 0 in theirs, 1 in ours",
        ),
        (
            "def connect(addr: str, tls=None)",
            "def connect(addr: str)",
            "demo.connect: parameter 'tls' missing",
        ),
        (
            "def connect(addr: str, tls=None)",
            "def connect(addr: str, tls)",
            "demo.connect: parameter 'tls' is required in ours but optional in theirs",
        ),
        (
            "def connect(addr: str, tls=None)",
            "def connect(addr: str, tls=None, *, token)",
            "demo.connect: parameter 'token' is required in ours and does not exist in theirs",
        ),
        (
            "def connect(addr: str, tls=None)",
            "def connect(addr: str, *, tls=None)",
            "demo.connect: parameter 'tls' is keyword-only in ours (positional at 1 in theirs)",
        ),
        (
            "retries: int = 1)",
            "retries: int = 3)",
            "demo.Client.invoke: parameter 'retries' default differs: theirs 1, ours 3",
        ),
        (
            "            BLUE = 1\n",
            "            BLUE = 2\n",
            "demo.Color.BLUE: enum value differs: theirs 1, ours 2",
        ),
        ("            BLUE = 1\n", "", "demo.Color.BLUE: enum member missing"),
        (
            "            y: int = 0\n",
            "",
            "demo.Point.y: dataclass field missing (no field, annotation, property or class attribute in ours)",
        ),
        (
            "        @dataclasses.dataclass\n",
            "",
            "demo.Point: is a dataclass in theirs, not in ours (dataclasses.fields/asdict/replace fail)",
        ),
        (
            "            @classmethod\n            def connect(cls, addr: str)",
            "            def connect(self, addr: str)",
            "demo.Client.connect: is an instance method in ours, a classmethod in theirs (cannot be called on the class)",
        ),
        (
            "            def invoke(self, data: bytes, retries: int = 1) -> bytes:\n                return data\n",
            "",
            "demo.Client.invoke: missing method",
        ),
        (
            "            @property\n            def state(self) -> int:",
            "            def state(self) -> int:",
            "demo.Client.state: is a method in ours, a plain attribute in theirs",
        ),
        (
            "            name: str\n",
            "",
            "demo.Client.name: attribute missing (no field, annotation, property or class attribute in ours)",
        ),
        (
            "            def __enter__(self):\n                return self\n",
            "",
            "demo.Client: does not implement __enter__",
        ),
        (
            "def connect(addr: str, tls=None) -> Client:\n            return Client(addr)",
            "class connect:\n            def __init__(self, addr: str, tls=None):\n                pass",
            None,
        ),
    ],
)
def test_each_incompatibility_is_reported_with_its_path(
    tmp_path: Path, old: str, new: str, expected: str | None
) -> None:
    assert old in BASE["core.py"]
    found = diff(tmp_path, BASE, {**BASE, "core.py": BASE["core.py"].replace(old, new)})
    if expected is None:  # a function that became a class stays callable with the same arguments
        assert found == []
    else:
        assert expected in found, found
        # reported once per path (the package re-export and the defining module are separate paths)
        assert found.count(expected) == 1


def test_missing_module_name_and_kind_changes(tmp_path: Path) -> None:
    ours = {
        "__init__.py": """
            from demo.core import Client, Color, connect
            Point = 3
            __all__ = ["Client", "Color", "Point", "connect"]
        """,
        "core.py": BASE["core.py"],
    }
    reference = {**BASE, "util.py": "def short_name(prefix, length=6):\n    return prefix\n"}
    found = diff(tmp_path, reference, ours)
    assert "demo.util: missing module" in found
    assert "demo.Point: kind differs: class in theirs, constant in ours" in found
    ours_pkg = {**ours, "util.py": "x = 1\n"}
    found = diff(tmp_path, reference, ours_pkg)
    assert "demo.util.short_name: missing name (function)" in found


def test_a_package_that_became_a_module_is_reported(tmp_path: Path) -> None:
    reference = {**BASE, "sub/__init__.py": "A = 1\n"}
    ours = {**BASE, "sub.py": "A = 1\n"}
    found = diff(tmp_path, reference, ours)
    assert found == ["demo.sub: is a package in theirs, a plain module in ours (its submodules cannot exist)"]


def test_a_module_that_fails_to_import_in_ours_is_reported(tmp_path: Path) -> None:
    found = diff(
        tmp_path, {**BASE, "extra.py": "B = 1\n"}, {**BASE, "extra.py": "import no_such_module_xyz\n"}
    )
    assert found == [
        "demo.extra: module does not import in ours: ModuleNotFoundError: No module named 'no_such_module_xyz'"
    ]


def test_signature_rules_on_plain_data() -> None:
    def p(name: str, kind: str = "POSITIONAL_OR_KEYWORD", default: str | None = None) -> dict[str, Any]:
        return {"name": name, "kind": kind, "has_default": default is not None, "default": default}

    ref = [p("a"), p("b", default="None")]
    assert surface.compare_signatures("f", ref, [p("a"), p("b", default="None"), p("c", default="1")]) == []
    assert surface.compare_signatures("f", ref, [p("a"), p("kw", "VAR_KEYWORD")]) == [
        surface.Difference("f", "parameter 'b' cannot be passed positionally (position 1) in ours")
    ]
    assert surface.compare_signatures("f", ref, [p("args", "VAR_POSITIONAL"), p("kw", "VAR_KEYWORD")]) == []
    assert surface.compare_signatures("f", ref, None) == [
        surface.Difference("f", "signature not introspectable in ours")
    ]
    star = [p("a"), p("rest", "VAR_POSITIONAL")]
    assert surface.compare_signatures("f", star, [p("a")]) == [
        surface.Difference("f", "*rest missing (theirs accepts extra positional arguments)")
    ]


def test_summary_counts_compatible_names(tmp_path: Path) -> None:
    ref = dump_package(write_package(tmp_path / "ref", BASE))
    ours = dump_package(
        write_package(
            tmp_path / "ours",
            {**BASE, "core.py": BASE["core.py"].replace("retries: int = 1", "retries: int")},
        )
    )
    summary = surface.summarize(ref, surface.compare(ref, ours))
    assert summary["demo"]["names"] == 4 and summary["demo"]["compatible"] == 3
    assert summary["demo.core"]["compatible"] == summary["demo.core"]["names"] - 1
