"""The broker core, sans-IO: applications, sessions and tasks, nodes/executors and placement.

``Core`` (``facade.py``) is the only thing the shell uses: ``handle(event)`` plus queries. Inside,
one module per noun works on the shared records of ``state.py``:

* ``state.py``        — ``CoreState``: the records, settings, outbox, current stimulus id, and the
  primitive transitions (``task_to``, ``executor_to``, ``close``, ``requeue``, ``release``);
* ``applications.py`` — register / update / unregister;
* ``sessions.py``     — sessions and their tasks, dealing tasks to bound executors;
* ``placement.py``    — nodes, executors (what executor managers report) and the scheduling pass;
* ``failures.py``     — sessions that can never run (bind-failure limit, impossible resources);
* ``trust.py``        — what a node is believed about: its own executors and the tasks they were
  sent; one live stream per node name;
* ``retries.py``      — retry policies of applications and sessions (``CoreState.requeue`` applies
  them);
* ``recovery.py``     — rebuilding the records at start-up.

Imports point down: facade → recovery → retries → applications → failures; retries → sessions;
facade → placement → sessions → failures → state; placement → trust → state.
"""

from __future__ import annotations

from session_manager.core.facade import Core
from session_manager.core.state import CoreState

__all__ = ["Core", "CoreState"]
