"""The outbound halves of the executor managers' streams, one per attached node (shell side).

Single-threaded: used only from the server's event loop. The shell routes each command the core
emits to its node's :class:`NodeLink`; the node's stream handler (``session_manager.node_stream``)
sends what is queued, whatever transport carries it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import groupby
from operator import attrgetter

from session_manager import effects

log = logging.getLogger(__name__)
DirectSend = Callable[[list[effects.Command]], bool]


@dataclass(eq=False)
class NodeLink:
    """The outbound half of one executor manager's Attach stream."""

    name: str
    queue: asyncio.Queue[effects.Command | None] = field(default_factory=asyncio.Queue)
    # Set by a transport that can write at once (the local socket): takes commands and returns
    # True when it wrote them, False when they must be queued (its buffer holds unsent bytes).
    # Used only while nothing is queued or being sent from the queue, so the order holds.
    direct: DirectSend | None = None
    _sending: bool = False  # a batch taken by next_batch may not be fully written yet

    def close(self) -> None:
        self.direct = None
        self.queue.put_nowait(None)

    def send(self, cmds: list[effects.Command]) -> None:
        """Write ``cmds`` at once when the transport can, else queue them for the stream."""
        direct = self.direct
        if direct is not None and not self._sending and self.queue.empty() and direct(cmds):
            return
        for cmd in cmds:
            self.queue.put_nowait(cmd)

    async def next_batch(self) -> list[effects.Command] | None:
        """Every command queued now (at least one, waiting for it), or None once closed."""
        self._sending = False  # the caller sent the previous batch
        first = await self.queue.get()
        self._sending = True
        if first is None:
            return None
        ready = [first]
        while not self.queue.empty():
            cmd = self.queue.get_nowait()
            if cmd is None:
                self.queue.put_nowait(None)  # send what we have, end on the next call
                break
            ready.append(cmd)
        return ready


class Links:
    def __init__(self) -> None:
        self._links: dict[str, NodeLink] = {}

    def attach(self, name: str) -> NodeLink:
        """A new link for ``name``; a previous stream of the same node is closed."""
        old = self._links.get(name)
        if old is not None:
            log.warning("node %s re-attached: replacing its previous stream", name)
            old.close()
        link = self._links[name] = NodeLink(name)
        return link

    def get(self, name: str) -> NodeLink | None:
        """The attached stream of node ``name``."""
        return self._links.get(name)

    def detach(self, link: NodeLink) -> bool:
        """Forget ``link``; False when a newer stream of its node already replaced it."""
        if self._links.get(link.name) is not link:
            return False
        del self._links[link.name]
        return True

    def send(self, commands: list[effects.Command]) -> None:
        """Each command to its node's link, in order (a node's consecutive commands together)."""
        links = self._links
        for node, group in groupby(commands, key=attrgetter("node")):
            link = links.get(node)
            if link is None:
                continue
            run: list[effects.Command] = []
            for cmd in group:
                if isinstance(cmd, effects.DropNodeCmd):  # declared lost: end its stream
                    if run:
                        link.send(run)
                        run = []
                    log.warning("closing the stream of node %s", cmd.node)
                    link.close()
                else:
                    run.append(cmd)
            if run:
                link.send(run)

    def close_all(self) -> None:
        for link in list(self._links.values()):
            link.close()
