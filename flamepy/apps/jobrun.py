"""The node side of a job task: run one :class:`~flamepy.jobs.launch.TaskLaunch` to its end.

``flmexec`` hands every task input that :func:`~flamepy.jobs.launch.is_job_input` recognises
(``"kind": "flame.job/v1"``) to :meth:`JobRunner.run_task`. For one launch it:

1. fills the ``MASTER_ADDR`` placeholder (multi-rank jobs) with rank 0's node address, met through
   the object cache (:mod:`flamepy.apps.rendezvous`; ``master_addr`` overrides it);
2. resolves the working directory: when the launch carries an ``archive`` (the uploaded working
   directory), :class:`~flamepy.apps.jobfiles.JobFiles` fetches and unpacks it once per job per
   node into ``<base_dir>/jobs/<job id>/`` and a relative ``cwd`` is relative to that; a fetch or
   unpack that fails ends the task as ``SetupFailed`` with the reason in its log. Without an
   archive, an absolute ``cwd`` as it is; a relative one against ``upload_dir`` when the launch
   has ``upload`` and one is given, else against ``base_dir`` (default: the service's working
   directory, which the executor sets to its work directory). A missing directory is ``SetupFailed``;
3. builds the environment: this service's environment (``PATH``, ``HOME``, ``FLAME_ENDPOINT``… —
   minus its instance socket), the flmexec variables (``FLAME_SESSION_ID``, ``FLAME_TASK_ID``…),
   then the launch's ``env`` (which wins), then ``CUDA_VISIBLE_DEVICES`` from this service's own
   environment when set (the executor names the GPUs it gave this executor there);
4. runs ``setup`` (``interpreter -c SETUP``) when there is one — a non-zero exit ends the task as
   ``SetupFailed`` with setup's exit code — then the command (``process_argv``), each in a new
   session (its own process group), stdin from /dev/null, stdout and stderr read line by line into
   the task's log (:mod:`flamepy.apps.joblog`: ``<logs_dir>/<job_id>/<index>.log``, default
   ``logs_dir`` ``<service cwd>/.flame-logs``) and the launch's ``stdout``/``stderr`` files; the
   log is also linked into the node's log index (:func:`~flamepy.apps.joblog.index_log`);
5. ``timeout_s`` (wall clock over setup and command): SIGTERM to the process group, SIGKILL after
   ``kill_grace_s`` (10 s), exit code 124, reason ``Timeout``. :meth:`JobRunner.cancel` (called by
   :func:`install_signal_forwarding` when the service gets SIGTERM/SIGINT): the same with
   ``cancel_grace_s`` (2.5 s — under the executor's 3 s between its SIGTERM and SIGKILL of the
   service, so the job is gone and its log closed before the service is), reason ``Cancelled``,
   the exit code the process ended with (143 on SIGTERM, 137 after SIGKILL; 128+signal if it
   exited 0); a second cancel kills at once. When the command exits, processes it left in its
   group are stopped the same way (as SLURM ends a job step). A :mod:`~flamepy.apps.jobguard`
   process per job process stops the group (SIGTERM, SIGKILL after ``kill_grace_s``) if this
   service dies without doing so (SIGKILL, crash);
6. answers with :class:`~flamepy.apps.jobresult.JobResult`: exit code 0 → the task succeeds with
   the result JSON as output; anything else raises :class:`~flamepy.apps.jobresult.JobFailed`
   (message ``exit code N (REASON); log PATH`` + tail), so the task is Failed and the exit code is
   recoverable with :func:`~flamepy.apps.jobresult.parse_failure`. See that module for why.

Exit codes the runner makes up: 124 timeout, 126 command not executable, 127 command not found,
128+N killed by signal N (or cancelled by it), 1 for a working directory that does not exist.
"""

from __future__ import annotations

import dataclasses
import os
import queue
import re
import signal
import subprocess
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from flamepy.apps.jobfiles import JobFiles
from flamepy.apps.jobguard import Guard, group_alive, signal_group, wait_group_gone
from flamepy.apps.joblog import INDEX_ENV, TaskLog, index_log, pump
from flamepy.apps.jobresult import TIMEOUT_EXIT_CODE, JobFailed, JobResult, Reason
from flamepy.apps.jobstate import write_state
from flamepy.apps.rendezvous import RendezvousStore, fill_master_addr
from flamepy.errors import FlameError

if TYPE_CHECKING:  # flamepy.jobs is imported on the first job only: flmexec starts faster
    from flamepy.jobs.launch import TaskLaunch

KILL_GRACE_S = 10.0
CANCEL_GRACE_S = 2.5
LEFTOVER_GRACE_S = 2.0
READER_JOIN_S = 5.0
STUCK_S = 30.0
LOGS_DIR_NAME = ".flame-logs"
JOBS_DIR_NAME = "jobs"
_HIDDEN_ENV = ("FLAME_INSTANCE_ENDPOINT", "FLAMEPY_TASK_PIPE", INDEX_ENV)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")

__all__ = ["JobRunner", "install_signal_forwarding", "log_path"]


def log_path(logs_dir: Path, launch: TaskLaunch) -> Path:
    """``<logs_dir>/<job_id>/<index>.log``, the job id made safe as one path component."""
    safe = _UNSAFE.sub("_", launch.job_id).lstrip(".") or "job"
    return logs_dir / safe / f"{launch.index}.log"


def _exit_code(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode


@dataclasses.dataclass
class _Attempt:
    """One running task attempt: its events (``("exit", pid, returncode)`` from a waiter thread,
    ``("cancel", signal, 0)`` from :meth:`JobRunner.cancel`), its deadline, and the cancel signal."""

    events: queue.SimpleQueue[tuple[str, int, int]] = dataclasses.field(default_factory=queue.SimpleQueue)
    cancelled: int | None = None  # the signal that cancelled it
    deadline: float | None = None
    stop: bool = False  # set by cancel: a wait for rank 0's address gives up


class JobRunner:
    """Runs job launches (see the module docstring); :meth:`cancel` stops the running ones."""

    def __init__(
        self,
        logs_dir: Path | None = None,
        base_dir: Path | None = None,
        upload_dir: Path | None = None,
        service_env: Mapping[str, str] | None = None,
        kill_grace_s: float = KILL_GRACE_S,
        cancel_grace_s: float = CANCEL_GRACE_S,
        files: JobFiles | None = None,
        rendezvous: RendezvousStore | None = None,
    ) -> None:
        self.rendezvous = rendezvous  # None: the object cache of FLAME_CACHE_ENDPOINT
        self.base_dir = Path(base_dir or os.getcwd()).absolute()
        self.files = files or JobFiles(self.base_dir / JOBS_DIR_NAME)
        self.logs_dir = Path(logs_dir or self.base_dir / LOGS_DIR_NAME).absolute()
        self.upload_dir = upload_dir
        self.service_env = dict(os.environ if service_env is None else service_env)
        self.kill_grace_s = kill_grace_s
        self.cancel_grace_s = cancel_grace_s
        self._lock = threading.Lock()
        self._active: list[_Attempt] = []
        self._idle = threading.Condition(self._lock)

    # -- public ------------------------------------------------------------------------------

    def run_task(
        self, raw: bytes, extra_env: Mapping[str, str] | None = None, master_addr: str | None = None
    ) -> bytes:
        """Decode and run a job task input: the result JSON, or :class:`JobFailed`."""
        from flamepy.jobs.launch import TaskLaunch

        result = self.run(TaskLaunch.from_task_input(raw), extra_env, master_addr)
        if not result.ok:
            raise JobFailed(result)
        return result.to_json()

    def run(
        self, launch: TaskLaunch, extra_env: Mapping[str, str] | None = None, master_addr: str | None = None
    ) -> JobResult:
        """Run ``launch`` to its end; never raises for what the command does."""
        env = {**self.service_env, **(extra_env or {})}
        unpacked, setup_problem = self._install(launch)
        cwd = self.resolve_cwd(launch, unpacked)
        path = log_path(self.logs_dir, launch)
        log, problem = self._open_log(launch, cwd, path)
        index_log(log, env)
        attempt = _Attempt()
        if launch.timeout_s is not None:
            attempt.deadline = time.monotonic() + launch.timeout_s
        with self._lock:
            self._active.append(attempt)
        try:
            code: int
            reason: Reason
            met = fill_master_addr(launch, env, self.rendezvous, master_addr, log.note, lambda: attempt.stop)
            launch, problem = met.launch, setup_problem or problem or met.problem
            if problem is not None:
                log.output("err", b"", f"flame: {problem}", False)
                code, reason = 1, "SetupFailed"
            else:
                code, reason = self._attempt(launch, cwd, self.environment(launch, extra_env), log, attempt)
            log.note("exit", f"exit code {code} ({reason})", code=code, reason=reason)
            return JobResult(exit_code=code, reason=reason, log=str(path), tail=log.tail())
        finally:
            log.close()
            with self._lock:
                self._active.remove(attempt)
                self._idle.notify_all()

    def cancel(self, sig: int = signal.SIGTERM) -> int:
        """Cancel every running attempt (safe in a signal handler); how many there were."""
        with self._lock:
            attempts = list(self._active)
        for attempt in attempts:
            attempt.stop = True
            attempt.events.put(("cancel", sig, 0))
        return len(attempts)

    @property
    def busy(self) -> bool:
        """True while an attempt runs."""
        with self._lock:
            return bool(self._active)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no attempt runs; False when ``timeout`` passed first."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._active, timeout)

    def resolve_cwd(self, launch: TaskLaunch, unpacked: Path | None = None) -> Path:
        """The directory the task runs in (see the module docstring, step 2); ``unpacked`` is
        where the launch's archive was unpacked."""
        if unpacked is not None:
            return Path(os.path.normpath(unpacked / launch.cwd))
        if os.path.isabs(launch.cwd):
            return Path(launch.cwd)
        root = self.upload_dir if (launch.upload and self.upload_dir is not None) else self.base_dir
        return Path(os.path.normpath(Path(root) / launch.cwd))

    def environment(self, launch: TaskLaunch, extra_env: Mapping[str, str] | None = None) -> dict[str, str]:
        """The task's environment (see the module docstring, step 3)."""
        env = {**self.service_env, **(extra_env or {})}
        for name in _HIDDEN_ENV:
            env.pop(name, None)
        env.update(launch.env)
        gpus = self.service_env.get("CUDA_VISIBLE_DEVICES")
        if gpus is not None:
            env["CUDA_VISIBLE_DEVICES"] = gpus
        return env

    # -- one attempt ---------------------------------------------------------------------------

    def _install(self, launch: TaskLaunch) -> tuple[Path | None, str | None]:
        """The folder the launch's archive is unpacked in (None without one), and why that
        failed (the task is then SetupFailed), or None."""
        if launch.archive is None:
            return None, None
        try:
            return self.files.install(launch.job_id, launch.archive, launch.deltas), None
        except (FlameError, OSError, ValueError) as exc:
            where = self.files.folder(launch.job_id)
            return where, f"cannot set up the job's uploaded files in {where}: {exc}"

    @staticmethod
    def _open_log(launch: TaskLaunch, cwd: Path, path: Path) -> tuple[TaskLog, str | None]:
        """The task's log with its plain ``stdout``/``stderr`` files (relative to ``cwd``), and
        why those could not be opened (the task then fails as SetupFailed), or None."""

        def one(pattern: str | None) -> Path | None:
            return None if pattern is None else cwd / pattern

        problem = None
        try:
            log = TaskLog(path, *((one(launch.stdout), one(launch.stderr)) if cwd.is_dir() else ()))
        except OSError as exc:
            problem = f"cannot open the output file {exc.filename!r}: {exc.strerror or exc}"
            log = TaskLog(path)
        log.note("start", f"job {launch.job_id} task {launch.index} (rank {launch.rank}) in {cwd}",
                 job_id=launch.job_id, index=launch.index, rank=launch.rank, cwd=str(cwd))  # fmt: skip
        return log, problem

    def _attempt(
        self, launch: TaskLaunch, cwd: Path, env: dict[str, str], log: TaskLog, attempt: _Attempt
    ) -> tuple[int, Reason]:
        if not cwd.is_dir():
            log.note("setup", f"working directory {str(cwd)!r} does not exist")
            log.output("err", b"", f"flame: working directory {str(cwd)!r} does not exist", False)
            return 1, "SetupFailed"
        if launch.setup:
            log.note("setup", "setup")
            code, reason = self._phase([*launch.interpreter, "-c", launch.setup], cwd, env, log, attempt)
            if reason != "Completed" or code != 0:
                return code, ("SetupFailed" if reason == "Completed" else reason)
        if attempt.cancelled is not None:
            return 128 + attempt.cancelled, "Cancelled"
        code, reason = self._phase(launch.process_argv, cwd, env, log, attempt)
        return code, ("Failed" if reason == "Completed" and code != 0 else reason)

    def _phase(
        self, argv: list[str], cwd: Path, env: dict[str, str], log: TaskLog, attempt: _Attempt
    ) -> tuple[int, Reason]:
        """Run one process to its end; ``(exit code, "Completed" | "Timeout" | "Cancelled")``."""
        try:
            proc = subprocess.Popen(
                argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, start_new_session=True,
            )  # fmt: skip
        except OSError as exc:
            code = 127 if isinstance(exc, FileNotFoundError) else 126
            log.output("err", b"", f"flame: cannot run {argv[0]!r}: {exc.strerror or exc}", False)
            return code, "Completed"
        guard = Guard(proc.pid, self.kill_grace_s)
        log.note("exec", f"pid {proc.pid}: {subprocess.list2cmdline(argv)[:500]}", pid=proc.pid)
        write_state(log.index_entry, proc.pid, cwd, env)  # for GetTaskStats / ExecInTask
        try:
            reason = self._follow(proc, attempt, log)
        finally:
            guard.release()
        returncode = -signal.SIGKILL if proc.returncode is None else proc.returncode  # see _stop
        code = TIMEOUT_EXIT_CODE if reason == "Timeout" else _exit_code(returncode)
        if reason == "Cancelled" and code == 0 and attempt.cancelled is not None:
            code = 128 + attempt.cancelled  # a cancelled job never reads as a success
        return code, reason

    def _follow(self, proc: subprocess.Popen[bytes], attempt: _Attempt, log: TaskLog) -> Reason:
        """Read the output, watch for the end, timeout or cancel, and clean up the group."""
        readers = [
            threading.Thread(target=pump, args=(pipe, name, log), name=f"job-{name}", daemon=True)
            for pipe, name in ((proc.stdout, "out"), (proc.stderr, "err"))
        ]
        for t in readers:
            t.start()
        threading.Thread(
            target=lambda: attempt.events.put(("exit", proc.pid, proc.wait())), name="job-wait", daemon=True
        ).start()
        reason = self._watch(proc.pid, attempt, log)
        if reason == "Completed":
            self._finish_group(proc.pid, log)
        until = time.monotonic() + READER_JOIN_S
        for t in readers:
            t.join(max(0.0, until - time.monotonic()))
            if t.is_alive():
                log.note(
                    "warning", f"std{t.name[-3:]} still open by a process outside the job; not read further"
                )
        return reason

    def _watch(self, pid: int, attempt: _Attempt, log: TaskLog) -> Reason:
        """Wait for the process to exit, its timeout or a cancel; stop the group for the last two."""
        while True:
            timeout = None if attempt.deadline is None else max(0.0, attempt.deadline - time.monotonic())
            try:
                kind, value, _ = attempt.events.get(timeout=timeout)
            except queue.Empty:
                log.note(
                    "timeout",
                    f"timed out: SIGTERM to the process group, SIGKILL after {self.kill_grace_s:g}s",
                )
                self._stop(pid, attempt, self.kill_grace_s)
                return "Timeout"
            if kind == "cancel":
                attempt.cancelled = value
                log.note("cancel", f"cancelled by signal {value}: SIGTERM to the process group, "
                         f"SIGKILL after {self.cancel_grace_s:g}s")  # fmt: skip
                self._stop(pid, attempt, self.cancel_grace_s)
                return "Cancelled"
            if value == pid:
                return "Completed"

    def _stop(self, pgid: int, attempt: _Attempt, grace: float) -> None:
        """SIGTERM the group; SIGKILL it after ``grace`` or at a further cancel; wait for the leader."""
        signal_group(pgid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        exited = False
        while not exited:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                kind, value, _ = attempt.events.get(timeout=remaining)
            except queue.Empty:
                break
            if kind == "cancel":
                break
            exited = value == pgid
        if exited:
            wait_group_gone(pgid, deadline)
        signal_group(pgid, signal.SIGKILL)
        while not exited:  # a process stuck in the kernel (D state) may outlive SIGKILL: stop waiting
            try:
                kind, value, _ = attempt.events.get(timeout=STUCK_S)
            except queue.Empty:
                return
            exited = kind == "exit" and value == pgid

    def _finish_group(self, pgid: int, log: TaskLog) -> None:
        """Stop what the command left running in its process group."""
        if not group_alive(pgid):
            return
        log.note("leftover", "processes left in the job's group: SIGTERM, then SIGKILL")
        signal_group(pgid, signal.SIGTERM)
        wait_group_gone(pgid, time.monotonic() + LEFTOVER_GRACE_S)
        signal_group(pgid, signal.SIGKILL)


def install_signal_forwarding(
    runner: JobRunner, signals: tuple[int, ...] = (signal.SIGTERM, signal.SIGINT)
) -> None:
    """In the service process's main thread: SIGTERM/SIGINT cancel the running job (see
    :meth:`JobRunner.cancel`), then the service dies of the same signal once the job is gone (or
    after the grace and some margin). With no job running the signal has its default effect."""
    state: dict[str, bool] = {"waiting": False, "die": False}

    def handle(sig: int, frame: FrameType | None) -> None:
        if state["die"] or not runner.cancel(sig):
            signal.signal(sig, signal.SIG_DFL)
            os.kill(os.getpid(), sig)
            return
        if state["waiting"]:
            return
        state["waiting"] = True

        def after() -> None:
            runner.wait_idle(runner.cancel_grace_s + READER_JOIN_S + 5.0)
            state["die"] = True
            os.kill(os.getpid(), sig)  # handled in the main thread: now the default effect

        threading.Thread(target=after, name="job-cancel", daemon=True).start()

    for sig in signals:
        signal.signal(sig, handle)
