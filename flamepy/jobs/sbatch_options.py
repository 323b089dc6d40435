"""The ``#SBATCH`` option vocabulary: names, short forms, whether each takes a value, and the
options that only make sense to a SLURM queue (warned about, then ignored).

Pure data and one tokenizer: :func:`read_options` turns one directive's words into
``(canonical name, value or None)`` pairs, accepting ``--opt=value``, ``--opt value``, ``-x value``
and ``-xvalue``.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable

from flamepy.jobs.values import JobSpecError

# options Flame turns into the job's shape
SUPPORTED = (
    "job-name",
    "nodes",
    "ntasks",
    "ntasks-per-node",
    "cpus-per-task",
    "mem",
    "mem-per-cpu",
    "mem-per-gpu",
    "gres",
    "gpus",
    "gpus-per-node",
    "gpus-per-task",
    "cpus-per-gpu",
    "time",
    "output",
    "error",
    "chdir",
    "export",
    "array",
    "spread-job",
)
ALIASES = {"tasks-per-node": "ntasks-per-node", "workdir": "chdir", "name": "job-name"}

_QUEUE = "a SLURM queue option; Flame has no partitions, accounts or mail"
_PLACEMENT = "a SLURM placement option; Flame places tasks by cpu/memory/gpu"
_RUN = "not supported for Flame jobs"
IGNORED: dict[str, str] = {
    **dict.fromkeys(
        (
            "partition",
            "account",
            "qos",
            "mail-type",
            "mail-user",
            "reservation",
            "exclusive",
            "wckey",
            "clusters",
            "comment",
            "nice",
            "priority",
            "begin",
            "deadline",
            "dependency",
            "hold",
            "kill-on-invalid-dep",
            "licenses",
            "time-min",
            "requeue",
            "no-requeue",
            "uid",
            "gid",
            "mcs-label",
            "parsable",
            "test-only",
            "quiet",
            "verbose",
            "wait",
            "acctg-freq",
            "profile",
        ),
        _QUEUE,
    ),
    **dict.fromkeys(
        (
            "constraint",
            "nodelist",
            "exclude",
            "hint",
            "distribution",
            "oversubscribe",
            "overcommit",
            "contiguous",
            "use-min-nodes",
            "switches",
            "tmp",
            "threads-per-core",
            "cores-per-socket",
            "sockets-per-node",
            "extra-node-info",
            "mincpus",
            "core-spec",
            "thread-spec",
            "gpu-bind",
            "gpu-freq",
            "cpu-freq",
            "mem-bind",
            "network",
            "power",
            "delay-boot",
            "ntasks-per-core",
            "ntasks-per-socket",
            "ntasks-per-gpu",
        ),
        _PLACEMENT,
    ),
    **dict.fromkeys(
        (
            "input",
            "open-mode",
            "signal",
            "no-kill",
            "get-user-env",
            "propagate",
            "container",
            "container-id",
            "batch",
            "cluster-constraint",
        ),
        _RUN,
    ),
}
# options that never take a separate value (a value only through --opt=value)
FLAGS = {
    "spread-job",
    "exclusive",
    "requeue",
    "no-requeue",
    "hold",
    "parsable",
    "test-only",
    "quiet",
    "verbose",
    "wait",
    "oversubscribe",
    "overcommit",
    "contiguous",
    "use-min-nodes",
    "no-kill",
    "get-user-env",
    "kill-on-invalid-dep",
}
SHORT = {
    "J": "job-name",
    "N": "nodes",
    "n": "ntasks",
    "c": "cpus-per-task",
    "G": "gpus",
    "t": "time",
    "o": "output",
    "e": "error",
    "D": "chdir",
    "a": "array",
    "p": "partition",
    "A": "account",
    "q": "qos",
    "C": "constraint",
    "w": "nodelist",
    "x": "exclude",
    "d": "dependency",
    "b": "begin",
    "L": "licenses",
    "M": "clusters",
    "m": "distribution",
    "i": "input",
    "H": "hold",
    "O": "overcommit",
    "s": "oversubscribe",
    "k": "no-kill",
    "W": "wait",
    "Q": "quiet",
    "v": "verbose",
    "B": "extra-node-info",
    "S": "core-spec",
}
KNOWN = (*SUPPORTED, *ALIASES, *IGNORED)

Warn = Callable[[str], None]


def _canonical(name: str) -> str | None:
    name = ALIASES.get(name, name)
    return name if name in SUPPORTED or name in IGNORED else None


def _unknown_long(name: str, where: str, warn: Warn) -> None:
    close = difflib.get_close_matches(name, KNOWN, n=1, cutoff=0.6)
    hint = f" (did you mean --{close[0]}?)" if close else ""
    warn(f"{where}: unknown #SBATCH option --{name}; ignored{hint}")


def read_options(words: list[str], where: str, warn: Warn) -> list[tuple[str, str | None]]:
    """``(canonical name, value)`` for each option in one directive's ``words``."""
    out: list[tuple[str, str | None]] = []
    i = 0
    while i < len(words):
        word = words[i]
        i += 1
        if word.startswith("--"):
            raw, sep, value = word[2:].partition("=")
            name = _canonical(raw)
            if name is None:
                _unknown_long(raw, where, warn)
                if not sep and i < len(words) and not words[i].startswith("-"):
                    i += 1  # its value
                continue
        elif word.startswith("-") and len(word) > 1:
            letter, attached = word[1], word[2:]
            if letter not in SHORT:
                warn(f"{where}: unknown #SBATCH option -{letter}; ignored")
                if not attached and i < len(words) and not words[i].startswith("-"):
                    i += 1  # its value
                continue
            name, sep, value = SHORT[letter], ("=" if attached else ""), attached.removeprefix("=")
        else:
            raise JobSpecError(f"{where}: expected an option such as --time=1:00:00, got {word!r}")
        if name in FLAGS:
            out.append((name, value if sep else None))
            continue
        if not sep:
            if i >= len(words):
                raise JobSpecError(f"{where}: --{name}: expected a value, got nothing")
            value = words[i]
            i += 1
        out.append((name, value))
    return out
