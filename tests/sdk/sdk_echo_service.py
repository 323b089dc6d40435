"""A service process for test_sdk_service.py: ``python sdk_echo_service.py`` under an executor's env."""

from __future__ import annotations

import flamepy


class Echo(flamepy.FlameService):
    def __init__(self) -> None:
        self.ctx: flamepy.SessionContext | None = None

    def on_session_enter(self, context: flamepy.SessionContext) -> None:
        if context.common_data() == b"refuse":
            raise RuntimeError("refusing this session")
        self.ctx = context

    def on_task_invoke(self, context: flamepy.TaskContext):
        data = context.input
        if data == b"raise":
            raise ValueError("bad input")
        if data == b"none":
            return None
        if data == b"empty":
            return b""
        if data == b"int":
            return 42
        if data == b"ctx":
            assert self.ctx is not None
            app = self.ctx.application_context
            text = f"{self.ctx.session_id}|{self.ctx.application}|{app.command}|{context.task_id}"
            return text.encode() + b"|" + (self.ctx.common_data() or b"")
        return data

    def on_session_leave(self) -> None:
        pass


if __name__ == "__main__":
    flamepy.run(Echo())
