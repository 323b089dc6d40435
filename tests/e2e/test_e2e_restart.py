"""kill -9 of the session manager with tasks pending: none is lost."""

from __future__ import annotations

from pathlib import Path

import pytest

import flamepy
from flamepy.cluster import LocalCluster
from tests.e2e.conftest import HERE, app_attrs
from tests.support import wait_until

pytestmark = pytest.mark.e2e


def test_kill_9_and_restart_loses_no_accepted_task(tmp_path: Path) -> None:
    with (
        LocalCluster(tmp_path / "c", port=0, executors_env={"FLAME_NODE_CPUS": "2"}) as cluster,
        flamepy.Connection(cluster.endpoint) as kept,  # open across the restart
    ):
        pinger = kept.create_session(flamepy.SessionAttributes(application="flmping"))
        assert pinger.invoke(b"before") == b"before"  # leaves a pooled local-socket connection
        with flamepy.Connection(cluster.endpoint) as conn:
            conn.register_application("faulty", app_attrs(HERE / "faulty_service.py"))
            ssn = conn.create_session(flamepy.SessionAttributes(application="faulty", common_data=b"c"))
            ids = [ssn.create_task(b"slow").id for _ in range(20)]
            sid = ssn.id
        cluster.kill_session_manager()
        cluster.restart_session_manager()
        # the old local connection is dead and the socket has a new token: found again, or gRPC
        assert pinger.invoke(b"after") == b"after"
        with flamepy.Connection(cluster.endpoint) as conn:
            assert conn.get_application("faulty") is not None
            ssn = conn.get_session(sid)
            assert ssn.common_data() == b"c"
            done = wait_until(lambda: (s := conn.get_session(sid).status).succeed == 20 and s, timeout=60)
            assert done.failed == 0 and done.pending == 0 and done.running == 0
            assert sorted(int(t.id) for t in ssn.list_tasks()) == [int(i) for i in ids]
            assert all(t.output == b"slow" for t in ssn.list_tasks())
            assert ssn.create_task(b"next").id == "21"
            ssn.close()
