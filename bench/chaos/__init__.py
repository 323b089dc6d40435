"""The chaos bench (``bench/chaos.py``): a seeded, bounded crash scenario against a local cluster.

Modules: :mod:`.service` (the service under test, which logs every execution outside the broker),
:mod:`.cluster` (the processes: one session manager, three executor managers, their services),
:mod:`.schedule` (the seeded kill schedule and the thread that carries it out), :mod:`.workload`
(the tasks, submitted with ``Session.run``), :mod:`.audit` (what happened, counted from the
futures, the execution log and storage) and :mod:`.report` (the table).
"""
