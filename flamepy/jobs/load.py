"""One entry point for "what the user gave": a job file or a command.

:func:`load_job` decides by name and content: ``.yaml``/``.yml`` → a YAML job file
(:mod:`flamepy.jobs.parse_yaml`); ``.sbatch``/``.slurm``, or an existing file whose header has
``#SBATCH`` lines → a script (:mod:`flamepy.jobs.parse_sbatch`); anything else is a shell command.
A job-file name that does not exist is an error, never a command. :func:`render_dry_run` (from
:mod:`flamepy.jobs.dryrun`) shows what would run.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path

from flamepy.jobs.dryrun import render_dry_run
from flamepy.jobs.parse_sbatch import SBATCH_SUFFIXES, has_sbatch_directives, load_sbatch_file
from flamepy.jobs.parse_yaml import load_yaml_file
from flamepy.jobs.spec import JobSpec
from flamepy.jobs.values import JobSpecError

YAML_SUFFIXES = (".yaml", ".yml")
_MAX_SCRIPT_BYTES = 1024 * 1024
# programs whose first non-option argument names the job better than they do
_LAUNCHERS = {
    "python",
    "python3",
    "bash",
    "sh",
    "zsh",
    "torchrun",
    "uv",
    "accelerate",
    "deepspeed",
    "mpirun",
    "srun",
    "node",
    "ruby",
    "perl",
    "julia",
    "Rscript",
    "run",
    "exec",
    "env",
}

__all__ = ["job_kind", "load_job", "name_for", "render_dry_run", "spec_for_command"]


def name_for(command: str | Sequence[str]) -> str:
    """A job name from a command: ``python train.py --lr 1`` → ``train``, ``nvidia-smi`` →
    ``nvidia-smi``."""
    if isinstance(command, str):
        try:
            words = shlex.split(command)
        except ValueError:
            words = command.split()
    else:
        words = list(command)
    for word in words:
        if "=" in word.split("/")[0] or word.startswith("-"):
            continue  # VAR=value prefixes and options
        base = os.path.basename(word.rstrip("/"))
        if base in _LAUNCHERS or base.startswith("python3."):
            continue
        stem = Path(base).stem if "." in base else base
        return stem[:64] or "job"
    return "job"


def job_kind(text: str, cwd: str) -> str:
    """``"yaml"``, ``"sbatch"`` or ``"command"`` for what the user typed."""
    lower = text.lower()
    if "\n" in text:
        return "command"
    if lower.endswith(YAML_SUFFIXES):
        return "yaml"
    if lower.endswith(SBATCH_SUFFIXES):
        return "sbatch"
    path = os.path.join(cwd, text)
    if " " not in text and os.path.isfile(path):
        try:
            with open(path, "rb") as fh:
                head = fh.read(_MAX_SCRIPT_BYTES)
            if has_sbatch_directives(head.decode("utf-8")):
                return "sbatch"
        except (OSError, UnicodeDecodeError):
            return "command"
    return "command"


def spec_for_command(command: str | Sequence[str], *, cwd: str) -> JobSpec:
    """A plain job running ``command`` (shell text or argv) in ``cwd``, with the defaults."""
    cmd: str | tuple[str, ...] = command if isinstance(command, str) else tuple(command)
    return JobSpec(command=cmd, name=name_for(cmd), workdir=cwd)


def load_job(
    path_or_command: str | os.PathLike[str],
    *,
    environ: Mapping[str, str] | None = None,
    cwd: str | None = None,
) -> JobSpec:
    """The :class:`JobSpec` for a job file path or a shell command (see the module docstring).

    ``environ`` (default ``os.environ``) is the caller's environment for variables a file copies;
    ``cwd`` (default the current directory) anchors relative paths and is the default workdir."""
    env = dict(os.environ if environ is None else environ)
    here = os.path.abspath(cwd or os.getcwd())
    text = os.fspath(path_or_command)
    kind = job_kind(text, here)
    if kind == "command":
        return spec_for_command(text, cwd=here)
    if not os.path.isfile(os.path.join(here, text)):
        raise JobSpecError(f"{text}: no such job file")
    if kind == "yaml":
        return load_yaml_file(text, environ=env, cwd=here)
    return load_sbatch_file(text, environ=env, cwd=here)
