"""Flame's side: the SDK (``Session.run``/``invoke``), an independent flame.v1 wire client (raw stubs,
CreateTask + WatchTask per task), cold/warm session starts, object put/get (when the object cache is
built), 200,000 queued tasks and 1,000 concurrent sessions. One LocalCluster with
``FLAME_NODE_CPUS=2`` → 2 executors.

Run by :mod:`bench.peers.main` as ``python -m bench.peers.sys_flame PARAMS_JSON OUT_JSON``.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
import psutil

import flamepy
from bench.peers.common import MIB, Params, Recorder, latencies_ms, log, parse_argv, percentile
from flamepy.cluster import LocalCluster, wait_until
from flamepy.common import credentials
from flamepy.proto import frontend_pb2 as fe
from flamepy.proto import frontend_pb2_grpc
from flamepy.proto import types_pb2 as pb
from flamepy.transport.auth import with_token

ROOT = Path(__file__).resolve().parents[2]
SERVICE = ROOT / "bench" / "peers" / "flame_service.py"
BENCH_APP = "bench-svc"
PING = "flmping"
SYSTEM = "flame"
WAIT_S = 300.0  # the longest any single wait of this module may take


def say(text: str) -> None:
    log(SYSTEM, text)


def spin_input(p: Params) -> bytes:
    return b"spin:%d" % p.spin_us


# -- the SDK ------------------------------------------------------------------------------------


def run_all(ssn: flamepy.Session, inputs: list[bytes]) -> list[bytes | None]:
    futs = [ssn.run(x) for x in inputs]
    return [f.result(timeout=WAIT_S) for f in futs]


def sdk_workloads(conn: flamepy.Connection, p: Params, rec: Recorder) -> None:
    with conn.create_session(flamepy.SessionAttributes(application=PING, min_instances=2)) as ssn:
        run_all(ssn, [b""] * 100)  # both executors bound and warm
        for r in p.rounds():
            t0 = time.perf_counter()
            run_all(ssn, [b""] * p.tput_n)
            rec.add("tput", SYSTEM, p.tput_n / (time.perf_counter() - t0))
            say(f"throughput #{r + 1}: {rec.values['tput'][SYSTEM][-1]:,.0f} tasks/s")
        for _ in p.rounds():
            lat = latencies_ms(lambda: ssn.invoke(b""), p.lat_n)
            rec.add("lat_p50", SYSTEM, percentile(lat, 50))
            rec.add("lat_p99", SYSTEM, percentile(lat, 99))
        say(f"latency p50 {rec.values['lat_p50'][SYSTEM]}")
        payload = bytes(p.payload_bytes)
        for _ in p.rounds():
            t0 = time.perf_counter()
            outs = run_all(ssn, [payload] * p.payload_n)
            rec.add("payload", SYSTEM, p.payload_n / (time.perf_counter() - t0))
            assert all(o is not None and len(o) == p.payload_bytes for o in outs)
        say(f"payload {rec.values['payload'][SYSTEM]}")
    wait_released(conn)
    with conn.create_session(flamepy.SessionAttributes(application=BENCH_APP, min_instances=2)) as ssn:
        run_all(ssn, [b""] * 20)
        for _ in p.rounds():
            t0 = time.perf_counter()
            run_all(ssn, [spin_input(p)] * p.fan_n)
            rec.add("fan", SYSTEM, time.perf_counter() - t0)
        say(f"fan-out {rec.values['fan'][SYSTEM]}")
    wait_released(conn)


# -- the independent flame.v1 client -------------------------------------------------------------


class WireClient:
    """What a client written from the flame.v1 contract alone does: CreateTask per task, then a
    WatchTask stream per task until its terminal state; at most ``inflight`` RPCs outstanding."""

    def __init__(self, port: int, inflight: int) -> None:
        limit = 64 * MIB
        self.channel = grpc.insecure_channel(
            f"127.0.0.1:{port}",
            options=[("grpc.max_receive_message_length", limit), ("grpc.max_send_message_length", limit)],
        )
        # the cluster's client token as call metadata (LocalCluster recorded it for this user)
        token = credentials.recall(f"127.0.0.1:{port}")
        if token:
            self.channel = with_token(self.channel, token)
        self.fs = frontend_pb2_grpc.FrontendStub(self.channel)
        self.inflight = inflight

    def close(self) -> None:
        self.channel.close()

    @contextmanager
    def session(self, app: str, min_instances: int) -> Iterator[str]:
        sid = f"wire-{uuid.uuid4().hex[:12]}"
        spec = pb.SessionSpec(application=app, min_instances=min_instances)
        self.fs.CreateSession(fe.CreateSessionRequest(session_id=sid, session=spec), timeout=60)
        try:
            yield sid
        finally:
            self.fs.CloseSession(fe.CloseSessionRequest(session_id=sid), timeout=60)

    def _terminal(self, call) -> pb.Task:
        last = None
        for msg in call:
            last = msg
        if last is None or last.status.state != pb.Succeed:
            raise RuntimeError(f"task did not succeed: {last}")
        return last

    def run_all(self, sid: str, inputs: list[bytes]) -> list[bytes]:
        ids: list[str] = []
        created: deque = deque()
        for x in inputs:
            if len(created) >= self.inflight:
                ids.append(created.popleft().result(timeout=WAIT_S).metadata.id)
            req = fe.CreateTaskRequest(task=pb.TaskSpec(session_id=sid, input=x))
            created.append(self.fs.CreateTask.future(req, timeout=WAIT_S))
        ids.extend(f.result(timeout=WAIT_S).metadata.id for f in created)
        outs: list[bytes] = []
        watching: deque = deque()
        for tid in ids:
            if len(watching) >= self.inflight:
                outs.append(self._terminal(watching.popleft()).spec.output)
            watching.append(
                self.fs.WatchTask(fe.WatchTaskRequest(session_id=sid, task_id=tid), timeout=WAIT_S)
            )
        outs.extend(self._terminal(c).spec.output for c in watching)
        return outs

    def invoke(self, sid: str, x: bytes) -> bytes:
        task = self.fs.CreateTask(fe.CreateTaskRequest(task=pb.TaskSpec(session_id=sid, input=x)), timeout=60)
        req = fe.WatchTaskRequest(session_id=sid, task_id=task.metadata.id)
        return self._terminal(self.fs.WatchTask(req, timeout=60)).spec.output


def wire_workloads(conn: flamepy.Connection, port: int, p: Params, rec: Recorder) -> None:
    col = "flame_wire"
    wire = WireClient(port, p.wire_inflight)
    try:
        with wire.session(PING, 2) as sid:
            wire.run_all(sid, [b""] * 100)
            for _ in p.rounds():
                t0 = time.perf_counter()
                wire.run_all(sid, [b""] * p.wire_tput_n)
                rec.add("tput", col, p.wire_tput_n / (time.perf_counter() - t0))
            rec.note("tput/flame_wire/n", f"{p.wire_tput_n:,} tasks")
            say(f"wire throughput {rec.values['tput'][col]}")
            for _ in p.rounds():
                lat = latencies_ms(lambda: wire.invoke(sid, b""), p.lat_n)
                rec.add("lat_p50", col, percentile(lat, 50))
                rec.add("lat_p99", col, percentile(lat, 99))
            say(f"wire latency p50 {rec.values['lat_p50'][col]}")
            payload = bytes(p.payload_bytes)
            for _ in p.rounds():
                t0 = time.perf_counter()
                outs = wire.run_all(sid, [payload] * p.payload_n)
                rec.add("payload", col, p.payload_n / (time.perf_counter() - t0))
                assert all(len(o) == p.payload_bytes for o in outs)
        wait_released(conn)
        with wire.session(BENCH_APP, 2) as sid:
            wire.run_all(sid, [b""] * 20)
            for _ in p.rounds():
                t0 = time.perf_counter()
                wire.run_all(sid, [spin_input(p)] * p.fan_n)
                rec.add("fan", col, time.perf_counter() - t0)
            say(f"wire fan-out {rec.values['fan'][col]}")
        wait_released(conn)
    finally:
        wire.close()


# -- cold and warm session starts -----------------------------------------------------------------


def wait_released(conn: flamepy.Connection) -> None:
    """Until no executor is bound to a session any more (a closed session's processes are gone)."""

    def idle() -> bool:
        return all(
            e.session_id is None or e.state == flamepy.ExecutorState.RELEASED for e in conn.list_executors()
        )

    wait_until(idle, 30.0, 0.05, "executors to be released")


def first_result_s(conn: flamepy.Connection, app: str) -> float:
    t0 = time.perf_counter()
    with conn.create_session(flamepy.SessionAttributes(application=app, min_instances=1)) as ssn:
        ssn.invoke(b"")
        took = time.perf_counter() - t0
    wait_released(conn)
    return took


def start_workloads(conn: flamepy.Connection, p: Params, rec: Recorder) -> None:
    ping = conn.get_application(PING)
    assert ping is not None
    attrs = flamepy.ApplicationAttributes(
        shim=ping.attributes.shim, command=ping.attributes.command, arguments=ping.attributes.arguments
    )
    for r in range(p.cold_n):
        app = f"bench-cold-{r}-{uuid.uuid4().hex[:6]}"
        conn.register_application(app, attrs)
        rec.add("cold", SYSTEM, first_result_s(conn, app))
        rec.add("warm", SYSTEM, first_result_s(conn, app))
        conn.unregister_application(app)
    say(f"cold {rec.values['cold'][SYSTEM]} warm {rec.values['warm'][SYSTEM]}")


# -- object put/get ------------------------------------------------------------------------------


def object_workloads(p: Params, rec: Recorder, tmp: Path, cluster: LocalCluster) -> None:
    """put_object + get_object of bytes through the local cluster's object cache (its default disk
    storage), or through a memory-backed one started here for a LocalCluster without a cache."""
    if importlib.util.find_spec("flamepy.cache") is None or importlib.util.find_spec("object_cache") is None:
        for m in p.object_mib:
            rec.note(f"obj_{m}/{SYSTEM}", "n/a (not built)")
        return
    endpoint = getattr(cluster, "cache_endpoint", None)
    if endpoint:
        rec.meta["object_cache"] = "the local cluster's (disk storage, 512 MiB memory budget)"
        put_get(p, rec, endpoint)
        return
    rec.meta["object_cache"] = "started by the bench (memory storage)"
    port_file = tmp / "cache.port"
    log_path = tmp / "cache.log"
    args = [sys.executable, "-m", "object_cache", "--port", "0", "--port-file", str(port_file)]
    args += ["--storage", "memory", "--log-level", "WARNING", "--auth", "none"]  # a bench-only cache
    with open(log_path, "wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        port = wait_until(
            lambda: port_file.exists() and port_file.read_text().strip(), 30.0, 0.05, "cache port"
        )
        put_get(p, rec, f"grpc://127.0.0.1:{port}")
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def put_get(p: Params, rec: Recorder, endpoint: str) -> None:
    os.environ["FLAME_CACHE_ENDPOINT"] = endpoint
    from flamepy.cache import api

    api.reset_default_clients()
    for m in p.object_mib:
        data = os.urandom(MIB) * m
        for r in p.rounds():
            t0 = time.perf_counter()
            ref = api.put_object(f"bench/obj{m}r{r}", data)
            got = api.get_object(ref)
            took = time.perf_counter() - t0
            assert len(got) == len(data)
            del got
            rec.add(f"obj_{m}", SYSTEM, m / 1024 / took)
            api.delete_objects(f"bench/obj{m}r{r}")
        say(f"object {m} MiB {rec.values[f'obj_{m}'][SYSTEM]}")
    api.reset_default_clients()


# -- scale ---------------------------------------------------------------------------------------


def rss_mib(pid: int) -> float:
    return psutil.Process(pid).memory_info().rss / MIB


def scale_workloads(conn: flamepy.Connection, sm_pid: int, p: Params, rec: Recorder) -> None:
    # No node can host cpu=64, so every task stays Pending: this measures the queue, not execution.
    attrs = flamepy.SessionAttributes(application=PING, resreq=flamepy.ResourceRequirement(cpu=64))
    before = rss_mib(sm_pid)
    ssn = conn.create_session(attrs)
    try:
        t0 = time.perf_counter()
        futs = [ssn.run(b"") for _ in range(p.scale_n)]

        def all_pending() -> bool:
            return ssn.refresh().status.pending >= p.scale_n

        wait_until(all_pending, WAIT_S, 0.05, f"{p.scale_n} pending tasks")
        took = time.perf_counter() - t0
        after = rss_mib(sm_pid)
        rec.add("scale_rate", SYSTEM, p.scale_n / took)
        rec.add("scale_rss", SYSTEM, after)
        rec.add("scale_bpt", SYSTEM, (after - before) * MIB / p.scale_n)
        say(f"{p.scale_n:,} queued in {took:.1f}s, RSS {before:.0f} → {after:.0f} MiB")
    finally:
        ssn.close()
    del futs


def sessions_workloads(conn: flamepy.Connection, sm_pid: int, p: Params, rec: Recorder) -> None:
    t0 = time.perf_counter()
    sessions = [
        conn.create_session(flamepy.SessionAttributes(application=PING, max_instances=1))
        for _ in range(p.sessions_n)
    ]
    rec.add("sess_create", SYSTEM, p.sessions_n / (time.perf_counter() - t0))
    rec.add("sess_rss", SYSTEM, rss_mib(sm_pid))
    try:
        t0 = time.perf_counter()
        # Each session binds an executor (a new service process) in turn: ~0.25 s per session on 2
        # executors, so only the first sessions_run_n of them get a task.
        futs = [s.run(b"") for s in sessions[: p.sessions_run_n]]
        for f in futs:
            f.result(timeout=WAIT_S)
        rec.add("sess_run", SYSTEM, time.perf_counter() - t0)
        say(f"{p.sessions_run_n} sessions: 1 task each in {rec.values['sess_run'][SYSTEM][-1]:.1f}s")
    finally:
        t0 = time.perf_counter()
        for s in sessions:
            s.close()
        rec.add("sess_close", SYSTEM, p.sessions_n / (time.perf_counter() - t0))


# -- main ----------------------------------------------------------------------------------------


def guarded(rec: Recorder, what: str, fn: Callable[[], None]) -> None:
    """Run one group of workloads; a failure is recorded as a note and the next group goes on."""
    try:
        fn()
    except Exception as exc:
        traceback.print_exc()
        rec.note(f"error/{what}", f"{type(exc).__name__}: {exc}")
        say(f"{what} FAILED: {exc!r}")


def main() -> int:
    p, rec = parse_argv(SYSTEM)
    rec.meta["flamepy"] = "editable checkout"
    with tempfile.TemporaryDirectory(prefix="flame-bench-") as tmpdir:
        tmp = Path(tmpdir)
        t0 = time.perf_counter()
        cluster = LocalCluster(
            tmp / "cluster", port=0, executors_env={"FLAME_NODE_CPUS": "2"}, log_level="WARNING"
        )
        with cluster, flamepy.Connection(cluster.endpoint) as conn:
            with conn.create_session(flamepy.SessionAttributes(application=PING, min_instances=1)) as ssn:
                ssn.invoke(b"")
            rec.add("start", SYSTEM, time.perf_counter() - t0)
            say(f"cluster up, first result after {rec.values['start'][SYSTEM][0]:.2f}s")
            wait_released(conn)
            conn.register_application(
                BENCH_APP,
                flamepy.ApplicationAttributes(
                    shim=flamepy.Shim.HOST, command=sys.executable, arguments=[str(SERVICE)]
                ),
            )
            guarded(rec, "sdk", lambda: sdk_workloads(conn, p, rec))
            guarded(rec, "wire", lambda: wire_workloads(conn, cluster.port, p, rec))
            guarded(rec, "start", lambda: start_workloads(conn, p, rec))
            guarded(rec, "object", lambda: object_workloads(p, rec, tmp, cluster))
            sm_pid = cluster.session_manager_pid
            guarded(rec, "scale", lambda: scale_workloads(conn, sm_pid, p, rec))
            guarded(rec, "sessions", lambda: sessions_workloads(conn, sm_pid, p, rec))
    return 0


if __name__ == "__main__":
    sys.exit(main())
