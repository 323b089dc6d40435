"""``flmping``: echoes each task's input; for health checks and benchmarks."""

from __future__ import annotations

import flamepy


class Ping(flamepy.FlameService):
    def on_session_enter(self, context: flamepy.SessionContext) -> None:
        pass

    def on_task_invoke(self, context: flamepy.TaskContext) -> bytes | None:
        return context.input

    def on_session_leave(self) -> None:
        pass


if __name__ == "__main__":
    flamepy.run(Ping())
