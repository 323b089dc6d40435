"""``flmctl exec JOB [--task N] [--timeout 10m] -- CMD ARGS...``: a command beside a running job.

The command runs on the node of the job's task (``--task N``, its index; 0 by default), in the
task's working directory with the task's environment (``CUDA_VISIBLE_DEVICES`` included), through
the session manager (never a connection to the node). Its output (stdout and stderr together)
streams to stdout as it comes and flmctl exits with its exit code (124: killed at ``--timeout``,
10 minutes by default). 125 and one ``error:`` line: the job is not running, its node is gone, or
the command could not be started; 2: an unknown job or bad usage.
"""

from __future__ import annotations

import argparse

from flamepy.cli import jobs_view
from flamepy.cli.context import CliContext
from flamepy.cli.jobs_view import EXIT_BROKER, EXIT_DETACHED, as_connection, usage_errors
from flamepy.errors import FlameError, InvalidArgumentError
from flamepy.taskprobe import ExecChunk


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "exec",
        parents=[common],
        help="run a command beside a running job (its node, directory and environment)",
        description="Run a command on the node of a running job's task, in the task's working "
        "directory with its environment; output streams back, the exit code passes through.",
    )
    p.add_argument("job", metavar="JOB", help="job id, unique id prefix, or name")
    p.add_argument("--task", type=int, default=0, metavar="N", help="the task's index (0)")
    p.add_argument("--timeout", metavar="DURATION", help="kill the command after DURATION (10m)")
    p.add_argument("command", nargs="*", metavar="-- CMD ARGS", help="the command and its arguments")
    p.set_defaults(handler=run)


def split_command(argv: list[str]) -> tuple[list[str], list[str] | None]:
    """``flmctl exec JOB [options] -- CMD ARGS``: the words before ``--`` for argparse and the
    command after it (None for another command), so options may follow JOB."""
    i = 0
    while i < len(argv) and argv[i].startswith("-") and argv[i] != "--":
        i += 2 if argv[i] == "--endpoint" else 1
    if i >= len(argv) or argv[i] != "exec" or "--" not in argv[i:]:
        return argv, None
    cut = argv.index("--", i)
    return argv[:cut], argv[cut + 1 :]


def _write(ctx: CliContext, chunk: ExecChunk) -> None:
    raw = getattr(ctx.stdout, "buffer", None)
    if raw is not None:
        ctx.stdout.flush()
        raw.write(chunk.data)
        raw.flush()
    else:
        ctx.stdout.write(chunk.data.decode(errors="replace"))
        ctx.stdout.flush()


@usage_errors
def run(ctx: CliContext) -> int:
    from flamepy import jobs
    from flamepy.jobs.probe import exec_stream
    from flamepy.jobs.values import parse_duration

    args = ctx.args
    argv = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not argv:
        raise InvalidArgumentError("flmctl exec: expected -- CMD ARGS... after the job")
    timeout = (parse_duration(args.timeout, "--timeout") or 0.0) if args.timeout else 0.0
    with jobs_view.connection(ctx) as raw:
        job = jobs.get(args.job, conn=as_connection(raw))  # an unknown job: usage error (2)
        if args.task not in {v.index for v in job.tasks()}:
            raise InvalidArgumentError(f"job {job.id} ({job.name}) has no task {args.task}")
        code = EXIT_BROKER
        try:
            for chunk in exec_stream(job, argv, args.task, timeout):
                if chunk.data:
                    _write(ctx, chunk)
                if chunk.done:
                    if chunk.note:
                        ctx.stderr.write(f"flmctl exec: {chunk.note}\n")
                    code = chunk.exit_code
        except InvalidArgumentError:
            raise
        except FlameError as exc:  # not running, node gone or silent, not a job
            ctx.stderr.write(f"error: {exc.message}\n")
            return EXIT_BROKER
        except KeyboardInterrupt:
            return EXIT_DETACHED
    return code
