"""How flmctl shows an upload: a rich progress bar on a terminal, one plain line otherwise.

:class:`CliUploadReporter` is a :class:`flamepy.jobs.upload.UploadReporter` writing to stderr;
warnings are ``warning:`` lines either way. Not thread-safe (one upload at a time).
"""

from __future__ import annotations

from typing import IO

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from flamepy.cli.context import _isatty

__all__ = ["CliUploadReporter"]


class CliUploadReporter:
    """Upload progress on ``stream`` (stderr): a bar when it is a terminal, else a line per upload
    unless ``quiet``."""

    def __init__(self, stream: IO[str], *, quiet: bool = False) -> None:
        self.stream = stream
        self.quiet = quiet
        self.tty = _isatty(stream)
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def warn(self, message: str) -> None:
        self.stream.write(f"warning: {message}\n")
        self.stream.flush()

    def start(self, total: int, what: str) -> None:
        if not self.tty:
            if not self.quiet:
                self.stream.write(f"uploading {what}\n")
            return
        self._progress = Progress(
            TextColumn("uploading"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=Console(file=self.stream),
            transient=True,
        )
        self._progress.start()
        self._task = self._progress.add_task("upload", total=total)
        self._progress.console.print(f"uploading {what}", highlight=False)

    def advance(self, sent: int) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, sent)

    def finish(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
            self._task = None
