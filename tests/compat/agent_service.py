"""A flamepy 0.6.0-style agent on OUR SDK: a FlameInstance whose entrypoint answers
``(request, shared context)``; request ``"bump"`` adds 1 to the context's counter first, request
``"block"`` waits (simulated long work) so that a caller's timeout runs out."""

from __future__ import annotations

import time
from typing import Any

from flamepy.service import FlameInstance

instance = FlameInstance()


@instance.entrypoint
def answer(req: Any) -> Any:
    if req == "block":
        time.sleep(60)  # simulated long work, not synchronisation: the caller times out first
    if req == "bump":
        ctx = dict(instance.context() or {})
        ctx["count"] = ctx.get("count", 0) + 1
        instance.update_context(ctx)
    return req, instance.context()


if __name__ == "__main__":
    instance.run()
