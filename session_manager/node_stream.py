"""One executor manager's Backend stream, whatever carries it: the handler that both transports
(gRPC ``Attach`` in ``backend.py`` and the local socket in ``local.py``) run.

The first message registers the node; then a reader task turns each node message into an event
for the broker while this generator sends the commands queued for the node, a batch at a time.
Runs on the server's event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import grpc

from flamepy.common.taskpipe import PipeError
from flamepy.errors import InvalidArgumentError
from flamepy.proto import backend_pb2 as be
from session_manager import backend_convert as bconv
from session_manager import validate
from session_manager.broker import Broker
from session_manager.links import DirectSend, NodeLink

log = logging.getLogger(__name__)


async def node_stream(
    broker: Broker, incoming: AsyncIterator[be.NodeMessage], direct: DirectSend | None = None
) -> AsyncIterator[be.ManagerMessage]:
    """Serve one node; raises InvalidArgumentError when its stream does not begin with a valid
    register, or when a later message is invalid (the stream then ends). ``direct``: a transport's
    way to write commands at once (see ``NodeLink.direct``); the others go through this stream."""
    registered = bconv.register_from_pb(await anext(aiter(incoming), None))
    validate.node_registration(registered, broker.config.limits)
    link = broker.attach_node(registered)
    ends = broker.endpoints
    yield bconv.registered_pb(registered.node, ends.frontend, ends.cache)
    reader = asyncio.create_task(_read(broker, link, incoming), name=f"node-{link.name}")
    link.direct = direct
    try:
        while (ready := await link.next_batch()) is not None:
            for msg in bconv.commands_pb(ready):
                yield msg
    finally:
        reader.cancel()
        broker.detach_node(link)
    if reader.done() and not reader.cancelled() and (bad := reader.result()) is not None:
        raise bad


async def _read(
    broker: Broker, link: NodeLink, incoming: AsyncIterator[be.NodeMessage]
) -> InvalidArgumentError | None:
    """Apply the node's messages until its stream ends; the error of an invalid one ends it."""
    limits = broker.config.limits
    try:
        async for msg in incoming:
            if (reply := bconv.node_reply_from_pb(msg)) is not None:
                broker.node_reply(link, reply)
                continue
            event = bconv.node_event_from_pb(link.name, msg)
            if event is None:
                log.warning("node %s sent unexpected %s", link.name, msg.WhichOneof("msg"))
            else:
                broker.node_event(validate.node_event(event, limits))
    except (grpc.aio.AioRpcError, asyncio.CancelledError, PipeError):
        pass
    except InvalidArgumentError as exc:
        log.warning("node %s sent an invalid message: %s", link.name, exc.message)
        return exc
    except Exception:
        log.exception("node %s: error handling a message", link.name)
    finally:
        link.close()
    return None
