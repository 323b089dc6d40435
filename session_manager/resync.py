"""Memory follows disk: rebuilding the core from storage, at start-up and after a failed commit.

At start-up the broker feeds :func:`recover_event` of the stored snapshot to a new core. When a
commit fails (disk full, I/O error, read-only file system) the broker's memory holds changes the
disk does not, so it throws that memory away and does the same again (:func:`reload`): sessions,
tasks, applications, retry policies and idempotency keys come back exactly as stored; a task stored
as Running goes back to Pending with event 1003 (``REQUEUED``, naming the attempt), like after a
restart; nodes and executors are not stored, so the broker closes every node's stream and the
executor managers register again (their service processes restart). Nothing of the failed batch
ran or was announced (``persist`` holds commands and announcements until their commit), so
dropping it from memory is all that is needed.

If the store cannot even be read back, the process cannot know what is true: :func:`stop_process`
logs why and exits non-zero (a restart recovers from what is durable).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

from session_manager import events
from session_manager.core import Core
from session_manager.defaults import default_applications
from session_manager.storage.base import Snapshot, Storage

log = logging.getLogger(__name__)
EXIT_STORAGE_LOST = 75  # EX_TEMPFAIL: the storage could not be read back after a failed commit


def recover_event(snap: Snapshot) -> events.Recover:
    return events.Recover(
        snap.apps,
        snap.sessions,
        snap.tasks,
        snap.finished,
        default_applications(),
        snap.runs,
        snap.keys,
        snap.policies,
        snap.spread,
    )


def reload(storage: Storage, new_core: Callable[[], Core]) -> Core:
    """A new core holding exactly what ``storage`` holds (its outbox: the requeues of tasks that
    were Running, to commit; they are re-derived from disk by every reload until they are)."""
    snap = storage.load()
    core = new_core()
    core.handle(recover_event(snap))
    log.warning(
        "re-synced from storage: %d sessions, %d unfinished tasks; every node registers again",
        len(snap.sessions),
        len(snap.tasks),
    )
    return core


def stop_process() -> None:
    log.critical(
        "cannot read the storage back after a failed commit: stopping (exit %d); a restart recovers "
        "what is durable",
        EXIT_STORAGE_LOST,
    )
    logging.shutdown()
    os._exit(EXIT_STORAGE_LOST)
