"""Every code block of README.md and docs/*.md runs, in order, as a user would run it.

Each document is one walkthrough in a fresh ``HOME`` (so ``flmctl cluster up`` makes its own
cluster under it, on the documented default port 8080), from the repository root:
- a ``bash`` block: each command line runs in a shell and must exit 0 within its deadline. Two
  substitutions, both named here: ``make test`` is checked with ``make -n test`` (running the suite
  from inside itself would recurse), and the placeholder ``ID`` in ``flmctl view session ID`` is
  the id of the newest session.
- a ``python`` block that defines a ``flamepy.FlameService`` and calls ``flamepy.run``: it is a
  service, so it is registered as an application of the running cluster and invoked once.
- any other ``python`` block: it runs as a script and must exit 0 within its deadline (a snippet
  that hangs fails here, naming where it is).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.docs.mdblocks import ROOT, Block, code_blocks, commands, doc_files

pytestmark = pytest.mark.e2e

DEADLINE_S = 120
RUNNABLE = {"bash", "sh", "python"}


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLAME_")}
    env.update(HOME=str(home), PATH=f"{ROOT / '.venv' / 'bin'}:{env.get('PATH', '')}", NO_COLOR="1")
    return env


def _run(argv: list[str] | str, block: Block, env: dict[str, str], **kw: object) -> str:
    shell = isinstance(argv, str)
    try:
        done = subprocess.run(
            argv, shell=shell, cwd=ROOT, env=env, capture_output=True, text=True, timeout=DEADLINE_S, **kw
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{block.where}: {argv!r} did not finish within {DEADLINE_S} s:\n{exc.stdout}{exc.stderr}")
    assert done.returncode == 0, f"{block.where}: {argv!r} exited {done.returncode}:\n{done.stdout}{done.stderr}"
    return done.stdout


def _newest_session(env: dict[str, str], block: Block) -> str:
    out = _run([str(ROOT / ".venv/bin/flmctl"), "list", "sessions", "-o", "json"], block, env)
    rows = json.loads(out)
    assert rows, f"{block.where}: no session to view"
    return str(rows[-1]["id"])


def _shell_command(line: str, env: dict[str, str], block: Block) -> str:
    if line == "make test":
        return "make -n test"
    if line.endswith(" session ID"):
        return line[: -len("ID")] + _newest_session(env, block)
    return line


def _run_service(block: Block, env: dict[str, str], tmp: Path) -> None:
    script = tmp / f"service_{block.line}.py"
    script.write_text(block.text)
    driver = (
        "import sys, flamepy\n"
        f"flamepy.register_application('docs-{block.line}', flamepy.ApplicationAttributes("
        f"command=sys.executable, arguments=[{str(script)!r}]))\n"
        f"ssn = flamepy.create_session('docs-{block.line}')\n"
        "assert ssn.invoke(b'doc') == b'doc'\n"
        "ssn.close()\n"
    )
    _run([sys.executable, "-c", driver], block, env)


def _run_block(block: Block, env: dict[str, str], tmp: Path) -> None:
    if block.lang in ("bash", "sh"):
        for line in commands(block):
            _run(_shell_command(line, env, block), block, env)
    elif "flamepy.run(" in block.text and "FlameService" in block.text:
        _run_service(block, env, tmp)
    else:
        script = tmp / f"snippet_{block.line}.py"
        script.write_text(block.text)
        _run([sys.executable, str(script)], block, env)


def test_every_code_block_has_a_runner() -> None:
    strange = [f"{b.where} ({b.lang})" for b in code_blocks() if b.lang not in RUNNABLE]
    assert not strange, f"code blocks no test knows how to run: {strange}"


@pytest.mark.parametrize("doc", doc_files(), ids=lambda p: p.name)
def test_doc_walkthrough(doc: Path, tmp_path: Path) -> None:
    todo = [b for b in code_blocks() if b.path == doc]
    if not todo:
        return
    home = tmp_path / "home"
    home.mkdir()
    env = _env(home)
    try:
        for block in todo:
            _run_block(block, env, tmp_path)
    finally:
        subprocess.run(
            [str(ROOT / ".venv/bin/flmctl"), "cluster", "down"], cwd=ROOT, env=env, capture_output=True, timeout=60
        )
