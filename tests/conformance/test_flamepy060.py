"""Our ``flamepy`` must be a drop-in for ``flamepy==0.6.0`` from PyPI (issue 10).

The reference is installed once into ``.venv-flame060`` at the repository root (git-ignored) and
reused while it still holds flamepy 0.6.0. Both surfaces are dumped by ``surface.py`` in
subprocesses, each under its own interpreter, and compared; every difference fails with its
dotted path.

Opt-in for now: ``FLAME_CONFORMANCE=1 pytest -m conformance tests/conformance``. It is skipped by
default because ours still differs in ~200 places; run ``python tests/conformance/surface.py
compare REF.json OURS.json`` for the list while closing the gaps.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conformance import surface
from tests.conformance.reference_venv import REFERENCE_VERSION, reference_python
from tests.conformance.reference_venv import clean_env as _clean_env

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent

# Deliberate, documented deviations: "path: reason" exactly as reported -> why it is acceptable.
# Each entry must still occur (a stale entry fails too, so this list stays honest).
ALLOWED_DIFFERENCES: dict[str, str] = {}

OPT_IN = "FLAME_CONFORMANCE"


def dump_with(python: Path, cwd: Path, env: dict[str, str]) -> dict[str, Any]:
    """Run surface.py under ``python`` (its own process, so the two flamepys never meet)."""
    proc = subprocess.run(
        [str(python), str(HERE / "surface.py"), "dump", "flamepy"],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 0, f"surface dump under {python} failed:\n{proc.stderr}"
    return json.loads(proc.stdout)


@pytest.mark.conformance
@pytest.mark.timeout(900)
@pytest.mark.skipif(
    os.environ.get(OPT_IN) != "1",
    reason=f"flamepy 0.6.0 conformance is opt-in until the gaps of issue 10 are closed: set {OPT_IN}=1 "
    "(installs flamepy==0.6.0 from PyPI into .venv-flame060 on first run)",
)
def test_public_surface_matches_flamepy_060(tmp_path: Path) -> None:
    reference = dump_with(reference_python(), tmp_path, _clean_env())
    assert reference["version"] == REFERENCE_VERSION
    ours = dump_with(Path(sys.executable), tmp_path, _clean_env(PYTHONPATH=str(ROOT)))
    (tmp_path / "reference.json").write_text(json.dumps(reference, indent=1))
    (tmp_path / "ours.json").write_text(json.dumps(ours, indent=1))

    found = [str(d) for d in surface.compare(reference, ours)]
    unexpected = [d for d in found if d not in ALLOWED_DIFFERENCES]
    stale = [d for d in ALLOWED_DIFFERENCES if d not in found]
    lines = [f"{len(unexpected)} difference(s) from flamepy {REFERENCE_VERSION}:", *unexpected]
    if stale:
        lines += ["allowed differences that no longer occur (remove them):", *stale]
    if unexpected or stale:
        pytest.fail("\n".join(lines), pytrace=False)
