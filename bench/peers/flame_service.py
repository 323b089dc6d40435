"""The Flame side's benchmark service: ``spin:<us>`` burns that much CPU and returns nothing; any
other input is echoed back. Registered by :mod:`bench.peers.sys_flame` as the ``bench-svc``
application and started by the executor as ``python bench/peers/flame_service.py``."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import flamepy
from bench.peers.common import spin

SPIN = b"spin:"


class BenchService(flamepy.FlameService):
    def on_session_enter(self, context: flamepy.SessionContext) -> None:
        pass

    def on_task_invoke(self, context: flamepy.TaskContext) -> bytes | None:
        data = context.input
        if data is not None and data.startswith(SPIN):
            spin(int(data[len(SPIN) :]))
            return None
        return data

    def on_session_leave(self) -> None:
        pass


if __name__ == "__main__":
    flamepy.run(BenchService())
