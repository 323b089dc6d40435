"""The executor manager: one asyncio process per node that registers the node's resources with the
session manager, runs executors (service processes started through the host shim) and pushes tasks
into them over ``flame.v1.Instance`` on a Unix socket.

Modules: ``manager`` (Attach stream, reconnect), ``node`` (executors of one stream), ``executor``
(one executor's lifecycle), ``state`` (its state machine table), ``shim`` (host shim),
``launcher`` / ``fake_launcher`` (process start/stop), ``instance`` (Instance client),
``convert`` (protobuf boundary), ``events`` (typed messages), ``deadline`` (the running task's
timeout timer), ``resources`` (node capacity),
``config`` (settings, endpoint parsing), ``backoff`` (reconnect delays), ``logtail`` (stderr tails),
``__main__`` (the ``flame-executor-manager`` command line).
"""
