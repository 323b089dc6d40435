"""Our ``flamepy`` must be a drop-in for ``flamepy==0.6.0`` from PyPI (issue 10).

The reference is installed once into ``.venv-flame060`` at the repository root (git-ignored) and
reused while it still holds flamepy 0.6.0. Both surfaces are dumped by ``surface.py`` in
subprocesses, each under its own interpreter, and compared; every difference fails with its
dotted path.

Part of the default test run (marker ``conformance``; ``pytest -m conformance`` runs it alone).
Deliberate differences are listed in ``ALLOWED_DIFFERENCES`` with the reason and documented for
users in ``docs/compat.md``; any other difference, or an allowed one that no longer occurs, fails.
"""

from __future__ import annotations

import json
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
_CONNECTION_CTOR = (
    "0.6.0's Connection(addr, channel, frontend) takes a ready gRPC channel and stub; ours takes "
    "(addr, tls_config) because no layer above the transport handles gRPC objects. Code written "
    "for 0.6.0 gets connections from connect() / Connection.connect(), which match."
)
ALLOWED_DIFFERENCES: dict[str, str] = {
    f"{where}.Connection(): {what}": _CONNECTION_CTOR
    for where in ("flamepy", "flamepy.core", "flamepy.core.client")
    for what in (
        "parameter 'channel' renamed (ours has 'tls_config' at position 1)",
        "parameter 'frontend' missing",
    )
}



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
