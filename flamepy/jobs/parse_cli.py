"""``flmctl run`` options → :class:`JobSpec`, shared by the CLI and anything else with argparse.

:func:`add_run_arguments` mounts the options on a parser; :func:`spec_from_args` turns the parsed
namespace into a spec. The positional words are either one string — a job file (``job.yaml``,
``script.sbatch``, a script with ``#SBATCH`` lines) or shell text (``"python train.py | tee log"``)
— or, after ``--``, an argv run without a shell (``-- python train.py --lr 1``). Options given on
the command line override what a job file says; ``-e`` and ``--env-file`` add to its environment
(``--env-file`` first, then ``-e``, later ones winning). ``-d/--detach`` and ``--dry-run`` are read
by the CLI itself, not the spec.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from pathlib import Path

from flamepy.jobs.build import apply_options
from flamepy.jobs.envfile import parse_env_file, parse_env_options
from flamepy.jobs.load import load_job, spec_for_command
from flamepy.jobs.spec import JobSpec
from flamepy.jobs.values import JobSpecError, check_label, fail

__all__ = ["CLI_NAMES", "add_run_arguments", "spec_from_args"]

# how each option is spelled on the command line, for error messages
CLI_NAMES = {
    "name": "--name", "gpus": "--gpus", "cpus": "--cpus", "memory": "--mem", "timeout": "--timeout",
    "retries": "--retries", "instances": "--instances", "array": "--array", "workdir": "--workdir",
    "labels": "--label", "spread": "--spread", "upload": "--no-upload", "env": "-e",
}  # fmt: skip
# JobSpec option <- argparse attribute, for the plain-valued options
_FROM_NS = {
    "name": "name", "gpus": "gpus", "cpus": "cpus", "memory": "mem", "timeout": "timeout",
    "retries": "retries", "instances": "instances", "array": "array", "workdir": "workdir",
}  # fmt: skip


def add_run_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add ``flmctl run``'s options and positional command to ``parser`` (returned)."""
    parser.add_argument(
        "command",
        nargs="*",
        metavar="CMD | JOB_FILE",
        help='"CMD" (shell text), a job file (.yaml, .sbatch, #SBATCH script), or -- CMD ARGS... (no shell)',
    )
    parser.add_argument("--name", help="job name (default: from the command or file)")
    parser.add_argument(
        "--gpus", metavar="N", help="GPUs per task: N, TYPE, TYPE:N or NxTYPE (e.g. 2, a100:4)"
    )
    parser.add_argument("--cpus", metavar="N", help="CPUs per task")
    parser.add_argument(
        "--mem", metavar="SIZE", help="memory per task, e.g. 16g, 512m (a bare number is GiB)"
    )
    parser.add_argument(
        "-e",
        "--env",
        action="append",
        default=[],
        metavar="NAME[=VALUE]",
        help="set a variable; a bare NAME copies yours (repeatable)",
    )
    parser.add_argument(
        "--env-file", action="append", default=[], metavar="FILE", help="NAME=VALUE lines (repeatable)"
    )
    parser.add_argument(
        "--timeout", metavar="DURATION", help="wall-clock limit per task: 90s, 15m, 2h, 1d, HH:MM:SS"
    )
    parser.add_argument("--retries", metavar="N", help="re-run a failed task up to N times")
    parser.add_argument("--instances", metavar="N", help="run N ranks (FLAME_NODE_RANK, MASTER_ADDR ...)")
    parser.add_argument(
        "--spread", action="store_true", default=None, help="put every rank on a distinct node"
    )
    parser.add_argument(
        "--array", metavar="SPEC", help="a job array: 1-10, 1,3,5, 1-10:2, %%N caps concurrency"
    )
    parser.add_argument(
        "--label", action="append", default=[], metavar="KEY=VALUE", help="tag the job (repeatable)"
    )
    _add_upload_arguments(parser)
    parser.add_argument("-d", "--detach", action="store_true", help="submit and return; do not stream output")
    parser.add_argument("--dry-run", action="store_true", help="print what would run and exit")
    return parser


def _add_upload_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workdir",
        metavar="DIR",
        help="where the tasks run: inside here, that folder of the upload; elsewhere, uploaded instead",
    )
    parser.add_argument(
        "--no-upload",
        dest="upload",
        action="store_false",
        default=None,
        help="do not upload; run in --workdir (default: here) on the node itself (shared filesystem)",
    )
    parser.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="GLOB",
        help="leave out of the upload (gitignore syntax, as .flameignore)",
    )


def _base(words: list[str], environ: Mapping[str, str], cwd: str) -> JobSpec:
    if words and words[0] == "--":
        words = words[1:]
    if not words:
        raise JobSpecError('flmctl run: expected "CMD", a job file, or -- CMD ARGS...')
    if len(words) == 1:
        return load_job(words[0], environ=environ, cwd=cwd)
    return spec_for_command(words, cwd=cwd)


def _env(ns: argparse.Namespace, environ: Mapping[str, str], cwd: str) -> tuple[dict[str, str], list[str]]:
    """``--env-file`` then ``-e`` variables (later wins) and the warnings about them."""
    env: dict[str, str] = {}
    warnings: list[str] = []
    for path in getattr(ns, "env_file", None) or []:
        try:
            text = Path(os.path.join(cwd, path)).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise JobSpecError(f"--env-file {path}: cannot read it: {exc}") from exc
        more, notes = parse_env_file(text, path, environ)
        env.update(more)
        warnings.extend(notes)
    more, notes = parse_env_options(getattr(ns, "env", None) or [], environ)
    env.update(more)
    return env, warnings + notes


def _labels(items: list[str]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise fail("--label", "KEY=VALUE", item)
        check_label(key, value, f"--label {item}")
        labels[key] = value
    return labels


def spec_from_args(
    ns: argparse.Namespace, environ: Mapping[str, str] | None = None, cwd: str | None = None
) -> JobSpec:
    """The :class:`JobSpec` for parsed ``flmctl run`` arguments (see the module docstring).

    ``environ`` (default ``os.environ``) is the caller's environment (``-e NAME`` copies from it);
    ``cwd`` (default the current directory) anchors relative paths."""
    env_in = dict(os.environ if environ is None else environ)
    here = os.path.abspath(cwd or os.getcwd())
    base = _base(list(getattr(ns, "command", None) or []), env_in, here)
    env, notes = _env(ns, env_in, here)
    options = {key: getattr(ns, attr, None) for key, attr in _FROM_NS.items()}
    return apply_options(
        base,
        cwd=here,
        names=CLI_NAMES,
        env=env,
        labels=_labels(getattr(ns, "label", None) or []),
        excludes=getattr(ns, "exclude", None) or (),
        spread=True if getattr(ns, "spread", None) else None,
        upload=False if getattr(ns, "upload", None) is False else None,
        warnings=notes,
        **options,
    )
