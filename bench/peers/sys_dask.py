"""Dask distributed's side: ``LocalCluster(n_workers=2, threads_per_worker=1, processes=True)``;
tasks with ``Client.map(..., pure=False)`` and 2 actors (``actor=True``), round-robin;
``scatter``/``gather`` of bytes for the object rows; a new ``Client`` for the warm row.

Run by :mod:`bench.peers.main` as ``python -m bench.peers.sys_dask PARAMS_JSON OUT_JSON``.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import traceback
import warnings
from collections.abc import Callable

try:
    from dask.distributed import Client, LocalCluster
except ImportError:  # the project's venv has no Dask; bench/.venv-peers does (make bench-all)
    Client = LocalCluster = None

from bench.peers.common import MIB, Params, Recorder, latencies_ms, log, parse_argv, percentile, spin

SYSTEM = "dask"
WAIT_S = 300.0


def echo(x=None):
    return x


def burn(us):
    spin(us)


class Actor:
    def echo(self, x=None):
        return x

    def burn(self, us):
        spin(us)


def say(text: str) -> None:
    log(SYSTEM, text)


def guarded(rec: Recorder, what: str, fn: Callable[[], None]) -> None:
    try:
        fn()
    except Exception as exc:
        traceback.print_exc()
        rec.note(f"error/{what}", f"{type(exc).__name__}: {exc}")
        say(f"{what} FAILED: {exc!r}")


def task_workloads(client: Client, p: Params, rec: Recorder) -> None:
    col = "dask_task"

    def many(fn, arg, n: int) -> list:
        return client.gather(client.map(fn, [arg] * n, pure=False))

    many(echo, b"", 100)
    for _ in p.rounds():
        t0 = time.perf_counter()
        many(echo, b"", p.tput_n)
        rec.add("tput", col, p.tput_n / (time.perf_counter() - t0))
    say(f"{col} throughput {rec.values['tput'][col]}")
    for _ in p.rounds():
        lat = latencies_ms(lambda: client.submit(echo, b"", pure=False).result(timeout=60), p.lat_n)
        rec.add("lat_p50", col, percentile(lat, 50))
        rec.add("lat_p99", col, percentile(lat, 99))
    say(f"{col} latency p50 {rec.values['lat_p50'][col]}")
    for _ in p.rounds():
        t0 = time.perf_counter()
        many(burn, p.spin_us, p.fan_n)
        rec.add("fan", col, time.perf_counter() - t0)
    say(f"{col} fan-out {rec.values['fan'][col]}")
    payload = bytes(p.payload_bytes)
    for _ in p.rounds():
        t0 = time.perf_counter()
        outs = many(echo, payload, p.payload_n)
        rec.add("payload", col, p.payload_n / (time.perf_counter() - t0))
        assert all(len(o) == p.payload_bytes for o in outs)
    say(f"{col} payload {rec.values['payload'][col]}")


def actor_workloads(client: Client, p: Params, rec: Recorder) -> None:
    col = "dask_actor"
    workers = list(client.scheduler_info()["workers"])
    actors = [client.submit(Actor, actor=True, workers=[w]).result(timeout=60) for w in workers[:2]]
    counter = [0]

    def call(method: str, arg):
        counter[0] += 1
        return getattr(actors[counter[0] % len(actors)], method)(arg)

    def many(method: str, arg, n: int) -> list:
        futs = [call(method, arg) for _ in range(n)]
        return [f.result() for f in futs]

    many("echo", b"", 100)
    for _ in p.rounds():
        t0 = time.perf_counter()
        many("echo", b"", p.tput_n)
        rec.add("tput", col, p.tput_n / (time.perf_counter() - t0))
    say(f"{col} throughput {rec.values['tput'][col]}")
    for _ in p.rounds():
        lat = latencies_ms(lambda: call("echo", b"").result(), p.lat_n)
        rec.add("lat_p50", col, percentile(lat, 50))
        rec.add("lat_p99", col, percentile(lat, 99))
    say(f"{col} latency p50 {rec.values['lat_p50'][col]}")
    for _ in p.rounds():
        t0 = time.perf_counter()
        many("burn", p.spin_us, p.fan_n)
        rec.add("fan", col, time.perf_counter() - t0)
    say(f"{col} fan-out {rec.values['fan'][col]}")
    payload = bytes(p.payload_bytes)
    for _ in p.rounds():
        t0 = time.perf_counter()
        outs = many("echo", payload, p.payload_n)
        rec.add("payload", col, p.payload_n / (time.perf_counter() - t0))
        assert all(len(o) == p.payload_bytes for o in outs)
    say(f"{col} payload {rec.values['payload'][col]}")
    # A new actor → its first result: created inside an already running worker (no new process).
    for _ in range(p.cold_n):
        for row in ("cold", "warm"):
            t0 = time.perf_counter()
            a = client.submit(Actor, actor=True, pure=False).result(timeout=60)
            a.echo(b"").result()
            rec.add(row, col, time.perf_counter() - t0)
            del a
    rec.note(f"cold/{col}/n", "no new process")
    rec.note(f"warm/{col}/n", "no new process")
    say(f"{col} cold {rec.values['cold'][col]}")


def client_starts(cluster: LocalCluster, p: Params, rec: Recorder) -> None:
    """The analogue of a second session: a new Client of the running cluster → its first result."""
    for _ in range(p.cold_n):
        t0 = time.perf_counter()
        with Client(cluster, set_as_default=False) as c:
            c.submit(echo, b"", pure=False).result(timeout=60)
            rec.add("warm", "dask_task", time.perf_counter() - t0)
    rec.note("warm/dask_task/n", "new Client")
    say(f"new client {rec.values['warm']['dask_task']}")


def objects(client: Client, p: Params, rec: Recorder) -> None:
    for m in p.object_mib:
        data = os.urandom(MIB) * m
        for _ in p.rounds():
            t0 = time.perf_counter()
            fut = client.scatter(data, direct=True)
            got = fut.result(timeout=WAIT_S)
            took = time.perf_counter() - t0
            assert len(got) == len(data)
            del got
            fut.release()
            rec.add(f"obj_{m}", "dask_task", m / 1024 / took)
        say(f"object {m} MiB {rec.values[f'obj_{m}']['dask_task']}")


def main() -> int:
    p, rec = parse_argv(SYSTEM)
    if Client is None:
        raise SystemExit("dask.distributed is not installed here: use bench/.venv-peers (make bench-all)")
    import dask
    import distributed

    rec.meta["dask"] = dask.__version__
    rec.meta["distributed"] = distributed.__version__
    warnings.simplefilter("ignore")
    logging.getLogger("distributed").setLevel(logging.ERROR)
    t0 = time.perf_counter()
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):
        client.submit(echo, b"", pure=False).result(timeout=120)
        rec.add("start", "dask_task", time.perf_counter() - t0)
        say(f"up, first result after {rec.values['start']['dask_task'][0]:.2f}s")
        guarded(rec, "tasks", lambda: task_workloads(client, p, rec))
        guarded(rec, "actors", lambda: actor_workloads(client, p, rec))
        guarded(rec, "clients", lambda: client_starts(cluster, p, rec))
        guarded(rec, "objects", lambda: objects(client, p, rec))
    return 0


if __name__ == "__main__":
    sys.exit(main())
