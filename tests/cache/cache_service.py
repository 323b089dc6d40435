"""A service that reads and writes the object cache with no configuration of its own: the
executor gives it FLAME_CACHE_ENDPOINT. Input: an object key; output: the key of a new object
holding the sum of the stored list (and FLAME_CACHE_ENDPOINT, to check where it came from)."""

from __future__ import annotations

import os

import flamepy
from flamepy.service import TaskContext


class CacheService(flamepy.FlameService):
    def on_session_enter(self, context) -> None:
        pass

    def on_task_invoke(self, context: TaskContext) -> bytes | None:
        assert context.input is not None
        key = context.input.decode()
        endpoint = os.environ["FLAME_CACHE_ENDPOINT"]
        values = flamepy.get_object(flamepy.ObjectRef(endpoint, key, 0))
        app, session, _ = key.split("/")
        out = flamepy.put_object(f"{app}/{session}", {"sum": sum(values), "endpoint": endpoint})
        return out.key.encode()

    def on_session_leave(self) -> None:
        pass


if __name__ == "__main__":
    flamepy.run(CacheService())
