"""``flmctl``: the Flame command line.

    flmctl cluster up|down|status|token    a local cluster in the background
    flmctl node join --endpoint URL --token-file F   this machine as a node of a cluster
    flmctl list applications|sessions|tasks|executors|nodes [-o json]
    flmctl view application NAME|session ID|task SESSION TASK|node NAME [-o json]
    flmctl register -f app.yaml | unregister NAME | close SESSION
    flmctl run [-d] [--gpus N ...] "CMD" | -- CMD ARGS | job.yaml | script.sbatch
    flmctl ps [-a] | status JOB | logs JOB [-f] | cancel JOB... | -n GLOB | --all
    flmctl dev [-c CMD] [--status] [--stop]   the inner loop: a warm session with a synced copy here
    flmctl top [JOB] [--once] [-o json] | exec JOB [--task N] -- CMD ARGS
    flmctl completion bash|zsh|fish

The endpoint is ``--endpoint``, else ``FLAME_ENDPOINT``, else ``~/.flame/flame.yaml``. A Flame
error prints ``error: <message>`` on stderr and exits 1 (no traceback); a usage error (an unknown
option, a bad job file, an unknown job) prints one ``error:`` line and exits 2.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import IO, NoReturn

from flamepy.cli import (
    app_cmd,
    cluster_cmd,
    completion_cmd,
    dev_cmd,
    jobs_cmd,
    jobs_exec_cmd,
    jobs_logs_cmd,
    jobs_run_cmd,
    jobs_top_cmd,
    list_cmd,
    node_cmd,
    view_cmd,
)
from flamepy.cli.context import CliContext, Connector, default_connector
from flamepy.errors import FlameError

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_INTERRUPTED = 130


class Parser(argparse.ArgumentParser):
    """argparse with a one-line usage error (``flmctl run: error: ... (see flmctl run --help)``)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    # options accepted both before and after the command (SUPPRESS keeps a later parser from
    # resetting what an earlier one parsed)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--endpoint", default=argparse.SUPPRESS,
                        help="Flame Frontend, e.g. http://127.0.0.1:8080")  # fmt: skip
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="log debug output to stderr")  # fmt: skip

    parser = Parser(
        prog="flmctl",
        description="Manage a Flame cluster: applications, sessions, tasks, nodes, jobs, local cluster.",
        parents=[common],
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    cluster_cmd.add_parser(sub, common)
    node_cmd.add_parser(sub, common)
    list_cmd.add_parser(sub, common)
    view_cmd.add_parser(sub, common)
    app_cmd.add_parsers(sub, common)
    jobs_run_cmd.add_parser(sub, common)
    jobs_cmd.add_parsers(sub, common)
    jobs_logs_cmd.add_parser(sub, common)
    dev_cmd.add_parser(sub, common)
    jobs_top_cmd.add_parser(sub, common)
    jobs_exec_cmd.add_parser(sub, common)
    completion_cmd.add_parser(sub, common, build_parser)
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    connector: Connector = default_connector,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
) -> int:
    """Run flmctl; returns the exit code (the console script exits with it)."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    words, command = jobs_exec_cmd.split_command(list(sys.argv[1:] if argv is None else argv))
    args = build_parser().parse_args(words)
    if command is not None:
        args.command = command
    logging.basicConfig(
        level=logging.DEBUG if getattr(args, "verbose", False) else logging.WARNING,
        stream=err,
        format="%(levelname)s %(name)s: %(message)s",
    )
    ctx = CliContext(args=args, stdout=out, stderr=err, connector=connector)
    try:
        code: int = args.handler(ctx)
        out.flush()  # here, so that a reader that went away is noticed below, not at exit
    except FlameError as exc:
        err.write(f"error: {exc.message}\n")
        return EXIT_ERROR
    except KeyboardInterrupt:
        err.write("interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader went away (``flmctl ps -o json | head -1``): stop quietly
        _silence_stdout(out)
        return EXIT_ERROR
    return code


def _silence_stdout(out: IO[str]) -> None:
    """Point the real stdout at /dev/null so that the interpreter's final flush of what is still
    buffered does not raise BrokenPipeError again at exit."""
    if out is sys.stdout:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


if __name__ == "__main__":
    sys.exit(main())
