"""Per-task job logs: one append-only JSON-lines file per task, plus SLURM-style plain files.

**Log format.** One UTF-8 JSON object per line, ``\\n``-terminated, written and flushed as the
output arrives (so a reader can follow the file while the task runs)::

    {"t":1764489600120,"s":"sys","l":"job j-1 task 0 (rank 0) in /w","e":"start","job_id":"j-1",...}
    {"t":1764489600123,"s":"sys","l":"pid 4242: bash -c 'python train.py'","e":"exec","pid":4242}
    {"t":1764489600200,"s":"out","l":"epoch 1 loss 0.25"}
    {"t":1764489600201,"s":"err","l":"a very long line ...","c":1}
    {"t":1764489600201,"s":"err","l":"... its end"}
    {"t":1764489601000,"s":"sys","l":"exit code 0 (Completed)","e":"exit","code":0,"reason":"Completed"}

- ``t``: Unix time in milliseconds when the runner read the line (``flmctl logs --timestamps``);
- ``s``: the stream: ``"out"`` (stdout), ``"err"`` (stderr), or ``"sys"`` for the runner's own
  notes (start, setup, timeout, cancel, exit), which a plain ``logs`` may hide;
- ``l``: the line's text without its newline; bytes that are not UTF-8 become U+FFFD;
- ``c``: present (``1``) when an output line was longer than :data:`MAX_LINE_BYTES` bytes: the
  text continues in the next record of the same stream (join the pieces to get the line);
- on ``"sys"`` records, ``e`` names the event: ``start`` (the attempt begins: ``job_id``,
  ``index``, ``rank``, ``cwd``), ``setup`` (setup runs next), ``exec`` (a process started; its
  ``pid`` is also its process group id, for ``top``/``exec``), ``timeout``, ``cancel``,
  ``leftover`` (processes the command left behind are stopped), ``warning``, and last ``exit``
  (with ``code`` and ``reason``).

Output is read line by line, so text without a newline (a ``\\r`` progress bar) shows when the line
ends or reaches :data:`MAX_LINE_BYTES`. A retried task appends to the same file; the last
``start`` record begins the latest attempt. A reader should ignore a final line without its
``\\n`` (a record being written). :func:`read_records` does both.

**Where the session manager finds it.** The executor manager gives its service processes
:data:`INDEX_ENV` (``<node work dir>/task-logs``); the job runner links each task's log there as
``<session>/<task>.log`` (:func:`index_path`, ids escaped into safe names), so the node can find a
task's log from its ids alone (``FrontendExt.ReadTaskLog``), whatever directory the job ran in.

**Plain files.** The launch's ``stdout``/``stderr`` paths (SLURM ``-o``/``-e``) get the raw bytes,
truncated at the start of each attempt; stderr goes to the stdout file when only ``stdout`` is set
(SLURM's default), and one file is shared when both name the same path.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

MAX_LINE_BYTES = 16 * 1024
TAIL_CHARS = 4096
STREAMS = ("out", "err", "sys")
INDEX_ENV = "FLAME_TASK_LOG_INDEX"  # the directory where the runner links each task's log
MAX_ID_CHARS = 200  # of an escaped id: one path component stays well under NAME_MAX
_SAFE_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")

__all__ = [
    "INDEX_ENV",
    "MAX_LINE_BYTES",
    "STREAMS",
    "TAIL_CHARS",
    "TaskLog",
    "index_log",
    "index_path",
    "link_index",
    "pump",
    "read_records",
]


def _escape_id(value: str) -> str:
    """``value`` as one safe path component: letters, digits, ``_`` and ``-`` kept, every other
    byte (``.``, ``/``, ``%`` included) as ``%XX``; so no id can name ``..`` or a subdirectory."""
    out = "".join(c if c in _SAFE_ID_CHARS else "".join(f"%{b:02X}" for b in c.encode()) for c in value)
    if not out or len(out) > MAX_ID_CHARS:
        raise ValueError(f"id {value[:40]!r} is empty or too long for a log file name")
    return out


def index_path(root: Path, session_id: str, task_id: str) -> Path:
    """``<root>/<session>/<task>.log``: where the log of a task is linked on its node (ids escaped:
    see :func:`_escape_id`; ValueError for an empty or too long id)."""
    return root / _escape_id(session_id) / f"{_escape_id(task_id)}.log"


def link_index(root: Path, session_id: str, task_id: str, target: Path) -> Path:
    """Point the index entry of the task at ``target`` (a symbolic link, replaced atomically)."""
    path = index_path(root, session_id, task_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    os.symlink(os.path.abspath(target), tmp)
    os.replace(tmp, path)
    return path


def index_log(log: TaskLog, env: Mapping[str, str]) -> None:
    """Link ``log`` into the node's index when ``env`` names it (:data:`INDEX_ENV`) and the task
    (``FLAME_SESSION_ID``, ``FLAME_TASK_ID``); a failure becomes a ``warning`` note in the log."""
    root, sid, tid = env.get(INDEX_ENV), env.get("FLAME_SESSION_ID"), env.get("FLAME_TASK_ID")
    if not (root and sid and tid):
        return
    try:
        log.index_entry = link_index(Path(root), sid, tid, log.path)
    except (OSError, ValueError) as exc:
        log.note("warning", f"log not indexed for the session manager: {exc}")


class TaskLog:
    """The sink of one task attempt's output: the JSON-lines log, plain files and the tail.

    Thread-safe: one reader thread per stream writes here concurrently."""

    def __init__(
        self,
        path: Path,
        stdout_path: Path | None = None,
        stderr_path: Path | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.index_entry: Path | None = None  # its link in the node's index (index_log)
        self._clock = clock
        self._lock = threading.Lock()
        self._tail = ""
        path.parent.mkdir(parents=True, exist_ok=True)
        self._log: IO[str] = open(path, "a", encoding="utf-8")  # noqa: SIM115 (closed by close())
        self._plain: dict[str, IO[bytes]] = {}
        try:
            self._open_plain(stdout_path, stderr_path)
        except OSError:
            self.close()
            raise

    def _open_plain(self, stdout_path: Path | None, stderr_path: Path | None) -> None:
        err_path = stderr_path or stdout_path
        opened: dict[Path, IO[bytes]] = {}
        for stream, target in (("out", stdout_path), ("err", err_path)):
            if target is None:
                continue
            key = Path(os.path.abspath(target))
            if key not in opened:
                key.parent.mkdir(parents=True, exist_ok=True)
                opened[key] = open(key, "wb")  # noqa: SIM115 (closed by close())
            self._plain[stream] = opened[key]

    def output(self, stream: str, piece: bytes, text: str, continued: bool) -> None:
        """One line (or piece of a long line) of ``stream``: raw bytes for the plain file, the
        decoded ``text`` (no newline) for the log."""
        record: dict[str, Any] = {"t": self._now_ms(), "s": stream, "l": text}
        if continued:
            record["c"] = 1
        with self._lock:
            self._write(record)
            self._tail += text if continued else text + "\n"
            if len(self._tail) > 2 * TAIL_CHARS:
                self._tail = self._tail[-TAIL_CHARS:]
            plain = self._plain.get(stream)
            if plain is not None and not plain.closed:
                plain.write(piece)
                plain.flush()

    def note(self, event: str, text: str, **fields: Any) -> None:
        """A ``"sys"`` record: the runner's own note about ``event``."""
        with self._lock:
            self._write({"t": self._now_ms(), "s": "sys", "l": text, "e": event, **fields})

    def tail(self, limit: int = TAIL_CHARS) -> str:
        """The last ``limit`` characters of stdout and stderr together, in arrival order."""
        with self._lock:
            return self._tail[-limit:]

    def close(self) -> None:
        with self._lock:
            for f in {id(f): f for f in self._plain.values()}.values():
                f.close()
            self._log.close()

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def _write(self, record: dict[str, Any]) -> None:
        if self._log.closed:
            return
        self._log.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
        self._log.flush()


def pump(pipe: IO[bytes], stream: str, log: TaskLog) -> None:
    """Copy ``pipe`` into ``log`` line by line until EOF (run in a thread per stream). Lines are
    cut at :data:`MAX_LINE_BYTES`; a UTF-8 character split by the cut is kept whole."""
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    try:
        while True:
            piece = pipe.readline(MAX_LINE_BYTES)
            if not piece:
                break
            ended = piece.endswith(b"\n")
            text = decoder.decode(piece)
            log.output(stream, piece, text[:-1] if ended else text, continued=not ended)
        rest = decoder.decode(b"", final=True)
        if rest:
            log.output(stream, b"", rest, continued=False)
    except (OSError, ValueError):  # the pipe was closed under us: nothing more to read
        pass
    finally:
        pipe.close()


def read_records(path: Path, latest_attempt: bool = False) -> Iterator[dict[str, Any]]:
    """The complete records of a log file (a last line without its newline is skipped). With
    ``latest_attempt``, only those from the last ``start`` record on."""
    records: list[dict[str, Any]] = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if not line.endswith("\n"):
                break
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if latest_attempt and record.get("e") == "start":
                records.clear()
            records.append(record)
    yield from records
