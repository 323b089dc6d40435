"""The executor worker's wake-up: level-triggered, rung by calls and by the futures it watches."""

from __future__ import annotations

import asyncio

from executor.doorbell import Doorbell


async def _scenario() -> None:
    bell = Doorbell()
    bell.ring()
    await asyncio.wait_for(bell.wait(), 1)  # rung before the wait: returns at once
    await asyncio.wait_for(bell.wait(), 1)  # ... until cleared
    bell.clear()
    waiter = asyncio.ensure_future(bell.wait())
    await asyncio.sleep(0)
    assert not waiter.done()
    bell.ring()
    await asyncio.wait_for(waiter, 1)
    bell.clear()
    fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    bell.watch(fut)
    waiter = asyncio.ensure_future(bell.wait())
    await asyncio.sleep(0)
    assert not waiter.done()
    fut.set_result(3)  # a watched future completing rings it
    await asyncio.wait_for(waiter, 1)
    bell.clear()
    waiter = asyncio.ensure_future(bell.wait())
    await asyncio.sleep(0)
    waiter.cancel()  # a cancelled wait leaves nothing behind: the next ring finds no stale waiter
    await asyncio.gather(waiter, return_exceptions=True)
    bell.ring()
    await asyncio.wait_for(bell.wait(), 1)


def test_doorbell_wakes_its_waiter_on_ring_and_on_watched_futures() -> None:
    asyncio.run(_scenario())
