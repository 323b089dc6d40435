"""The Flame session manager: sessions, tasks, applications, nodes and executors, persisted.

Layers (imports point down only; ``tests/session_manager/test_layers.py`` checks them):

* wiring — ``server.py`` (imported only by ``__main__``), ``config.py``;
* transports — ``frontend.py``, ``frontend_ext.py``, ``backend.py`` (gRPC servicers) and
  ``local.py`` (Unix socket): decode → one ``Broker`` call → encode; they share the Backend stream
  handler ``node_stream.py`` and its conversion ``backend_convert.py``, never each other; every
  request is checked right after decoding by ``validate.py`` against ``limits.py`` (pure; bytes
  are decoded by the interceptor in ``flamepy.common.grpc_status``, see ``docs/limits.md``);
* shell — ``broker.py`` (the one application API, asyncio), ``tasks_view.py`` (reading and
  watching tasks), ``links.py`` (node streams), ``watchers.py``, ``persist.py`` (group commit;
  what a commit allows leaves only once it is durable), ``resync.py`` (memory rebuilt from storage
  at start-up and after a failed commit), ``storage/`` (memory, SQLite; ``storage/errors.py``: what
  a failed commit tells its callers);
* core, sans-IO — ``core/`` (``Core.handle(event)``), ``events.py`` (what goes in),
  ``effects.py`` (what comes out), ``states.py`` (transition tables, the one place that rejects an
  illegal transition), ``scheduler.py`` (pure placement), ``model.py`` (records).

Where what comes next goes:

* a new RPC — a method on its servicer (new job RPCs such as logs or cancelling a running task:
  ``frontend_ext.py``), one ``Broker`` method, and, if it changes state, an event in ``events.py``
  with a handler in the ``core/`` module of its noun (and a command in ``effects.py`` +
  ``backend_convert.py`` when a node must act);
* a new task state — ``flamepy.types.TaskState`` and its edges in ``states.py``; re-runs (attempt
  numbers, event 1003, the retry limit) go through ``core/state.py`` (``CoreState.task_to`` /
  ``requeue``), retry policies live in ``core/retries.py``, start-up requeues in
  ``core/recovery.py``;
* a new transport — one module beside ``local.py`` calling ``Broker`` and ``node_stream``, wired
  in ``server.py``;
* client/node credentials — one gRPC server interceptor passed to ``grpc.aio.server`` in
  ``server.py``;
* heartbeat liveness — the ``CheckLiveness`` timer in ``broker.py`` beside the scheduler's, handled
  in ``core/placement.py`` (``check_liveness``); the backstops of task timeouts and releases
  (``CheckDeadlines``, ``core/deadlines.py``) ride on the same timer; cancelling a task —
  ``core/sessions.py`` (``cancel_task``) and ``effects.CancelCmd`` for the executor's node;
  why a session can never run (the bind-failure limit,
  impossible resources) and what its callers are told — ``core/failures.py``.
"""
