"""The scheduling loop's wake-up: changes made close together wake it once, after the delay."""

from __future__ import annotations

import asyncio

from session_manager.kick import Kick


async def _scenario() -> None:
    kick = Kick(delay=0.05)
    loop = asyncio.get_running_loop()
    waiter = asyncio.ensure_future(kick.wait())
    start = loop.time()
    kick.soon()
    kick.soon()  # coalesced with the first
    await asyncio.sleep(0)
    assert not waiter.done()  # not at once: replies of this turn go first
    await asyncio.wait_for(waiter, 5)
    assert loop.time() - start >= 0.04
    waiter = asyncio.ensure_future(kick.wait())
    await asyncio.sleep(0.1)
    assert not waiter.done()  # the earlier soon()s woke it once only
    kick.now()
    await asyncio.wait_for(waiter, 1)
    kick.soon()
    kick.now()  # a due timer wins; the pending soon() is dropped by the wait
    await asyncio.wait_for(kick.wait(), 1)
    waiter = asyncio.ensure_future(kick.wait())
    await asyncio.sleep(0.1)
    assert not waiter.done()
    waiter.cancel()
    kick.cancel()


def test_kick_coalesces_soon_and_honours_now() -> None:
    asyncio.run(_scenario())


async def _timer_scenario() -> None:
    kick = Kick(delay=0.05)
    kick.after(0.02)
    kick.after(None)  # replaced: no timer left
    waiter = asyncio.ensure_future(kick.wait())
    await asyncio.sleep(0.1)
    assert not waiter.done()
    kick.after(10)
    kick.after(0.01)  # the later call's delay wins
    await asyncio.wait_for(waiter, 1)
    kick.after(0.01)
    kick.cancel()  # shutdown drops it
    waiter = asyncio.ensure_future(kick.wait())
    await asyncio.sleep(0.1)
    assert not waiter.done()
    waiter.cancel()


def test_kick_after_keeps_one_timer_the_latest() -> None:
    asyncio.run(_timer_scenario())
