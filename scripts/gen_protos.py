"""Generate the Python protobuf/gRPC modules in flamepy/proto/ from protos/*.proto.

The only producer of generated code (``make protos``). Generated modules import each other with
absolute names (``import types_pb2``); this script rewrites those into package-relative imports so
the package works from anywhere. ``--check`` regenerates into a temporary directory and exits 1 when
the committed files differ (used by the drift test and CI).
"""

from __future__ import annotations

import argparse
import filecmp
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "protos"
OUT_DIR = ROOT / "flamepy" / "proto"
HEADER = '"""Generated from protos/ by scripts/gen_protos.py. Do not edit."""\n'
_IMPORT = re.compile(r"^import (\w+_pb2) as (\w+)$", re.MULTILINE)


def generate(out_dir: Path) -> list[Path]:
    from grpc_tools import protoc  # imported late: only this script needs grpc_tools

    protos = sorted(PROTO_DIR.glob("*.proto"))
    out_dir.mkdir(parents=True, exist_ok=True)
    args = [
        "protoc",
        f"-I{PROTO_DIR}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *[str(p) for p in protos],
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    produced = sorted(p for p in out_dir.iterdir() if p.suffix in {".py", ".pyi"})
    for path in produced:
        text = _IMPORT.sub(r"from . import \1 as \2", path.read_text())
        path.write_text(text)
    (out_dir / "__init__.py").write_text(HEADER)
    return produced


def check() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp)
        generate(fresh)
        names = sorted(p.name for p in fresh.iterdir() if p.suffix in {".py", ".pyi"})
        committed = sorted(p.name for p in OUT_DIR.iterdir() if p.suffix in {".py", ".pyi"})
        if names != committed:
            print(f"generated file set differs: {names} != {committed}", file=sys.stderr)
            return 1
        _, mismatch, errors = filecmp.cmpfiles(fresh, OUT_DIR, names, shallow=False)
        if mismatch or errors:
            print(f"generated code drifted from protos/: {mismatch + errors}", file=sys.stderr)
            return 1
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail when flamepy/proto is stale")
    opts = parser.parse_args()
    if opts.check:
        return check()
    generate(OUT_DIR)
    return 0


if __name__ == "__main__":
    sys.exit(main())
