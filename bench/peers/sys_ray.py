"""Ray's side: ``ray.init(num_cpus=2)``; remote functions (tasks), 2 sync actors and 2 async actors
(``async def`` methods), round-robin; ``ray.put``/``ray.get`` of bytes for the object rows.

Run by :mod:`bench.peers.main` as ``python -m bench.peers.sys_ray PARAMS_JSON OUT_JSON`` with
``RAY_AUTH_MODE=disabled`` (Ray 2.60 enables token auth by default).
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

try:
    import ray
except ImportError:  # the project's venv has no Ray; bench/.venv-peers does (make bench-all)
    ray = None

from bench.peers.common import MIB, Params, Recorder, latencies_ms, log, parse_argv, percentile, spin

SYSTEM = "ray"
WAIT_S = 300.0


# Plain Python here; made remote by remotes() so that this module imports without Ray.
def echo(x=None):
    return x


def burn(us):
    spin(us)


class Actor:
    def echo(self, x=None):
        return x

    def burn(self, us):
        spin(us)


class AsyncActor:
    async def echo(self, x=None):
        return x

    async def burn(self, us):
        spin(us)


R: dict[str, Any] = {}  # the remote versions of the above, by name


def remotes() -> None:
    for obj in (echo, burn, Actor, AsyncActor):
        R[obj.__name__] = ray.remote(obj)


def say(text: str) -> None:
    log(SYSTEM, text)


def guarded(rec: Recorder, what: str, fn: Callable[[], None]) -> None:
    try:
        fn()
    except Exception as exc:
        traceback.print_exc()
        rec.note(f"error/{what}", f"{type(exc).__name__}: {exc}")
        say(f"{what} FAILED: {exc!r}")


class Kind:
    """One way of calling Ray: ``submit(method, arg)`` returns an ObjectRef."""

    def __init__(self, column: str, submit: Callable) -> None:
        self.column = column
        self.submit = submit


def kinds() -> list[Kind]:
    sync = [R["Actor"].remote() for _ in range(2)]
    asy = [R["AsyncActor"].remote() for _ in range(2)]
    ray.get([a.echo.remote() for a in sync + asy])
    counter = [0]

    def on(actors):
        def submit(method: str, arg):
            counter[0] += 1
            return getattr(actors[counter[0] % len(actors)], method).remote(arg)

        return submit

    funcs = {"echo": R["echo"], "burn": R["burn"]}
    return [
        Kind("ray_task", lambda method, arg: funcs[method].remote(arg)),
        Kind("ray_actor", on(sync)),
        Kind("ray_async", on(asy)),
    ]


def workloads(k: Kind, p: Params, rec: Recorder) -> None:
    col = k.column
    ray.get([k.submit("echo", b"") for _ in range(100)], timeout=WAIT_S)
    for _ in p.rounds():
        t0 = time.perf_counter()
        ray.get([k.submit("echo", b"") for _ in range(p.tput_n)], timeout=WAIT_S)
        rec.add("tput", col, p.tput_n / (time.perf_counter() - t0))
    say(f"{col} throughput {rec.values['tput'][col]}")
    for _ in p.rounds():
        lat = latencies_ms(lambda: ray.get(k.submit("echo", b""), timeout=60), p.lat_n)
        rec.add("lat_p50", col, percentile(lat, 50))
        rec.add("lat_p99", col, percentile(lat, 99))
    say(f"{col} latency p50 {rec.values['lat_p50'][col]}")
    for _ in p.rounds():
        t0 = time.perf_counter()
        ray.get([k.submit("burn", p.spin_us) for _ in range(p.fan_n)], timeout=WAIT_S)
        rec.add("fan", col, time.perf_counter() - t0)
    say(f"{col} fan-out {rec.values['fan'][col]}")
    payload = bytes(p.payload_bytes)
    for _ in p.rounds():
        t0 = time.perf_counter()
        outs = ray.get([k.submit("echo", payload) for _ in range(p.payload_n)], timeout=WAIT_S)
        rec.add("payload", col, p.payload_n / (time.perf_counter() - t0))
        assert all(len(o) == p.payload_bytes for o in outs)
    say(f"{col} payload {rec.values['payload'][col]}")


def actor_starts(p: Params, rec: Recorder) -> None:
    """A new actor → its first result (a worker process of its own), twice per round: the class
    is new to the cluster in the first round only."""
    for _ in range(p.cold_n):
        for row in ("cold", "warm"):
            t0 = time.perf_counter()
            a = R["Actor"].remote()
            ray.get(a.echo.remote(b""), timeout=60)
            rec.add(row, "ray_actor", time.perf_counter() - t0)
            ray.kill(a)
            time.sleep(0.5)  # let the killed worker go before the next start
    say(f"actor cold {rec.values['cold']['ray_actor']} warm {rec.values['warm']['ray_actor']}")


def objects(p: Params, rec: Recorder) -> None:
    for m in p.object_mib:
        data = os.urandom(MIB) * m
        for _ in p.rounds():
            t0 = time.perf_counter()
            ref = ray.put(data)
            got = ray.get(ref, timeout=WAIT_S)
            took = time.perf_counter() - t0
            assert len(got) == len(data)
            del got, ref
            rec.add(f"obj_{m}", "ray_task", m / 1024 / took)
        say(f"object {m} MiB {rec.values[f'obj_{m}']['ray_task']}")


def main() -> int:
    p, rec = parse_argv(SYSTEM)
    if ray is None:
        raise SystemExit("ray is not installed here: use bench/.venv-peers (make bench-all)")
    remotes()
    rec.meta["ray"] = ray.__version__
    store = max(2 * 1024 * MIB, 3 * max(p.object_mib, default=64) * MIB)
    t0 = time.perf_counter()
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        object_store_memory=store,
        configure_logging=False,
    )
    try:
        ray.get(R["echo"].remote(b""), timeout=120)
        rec.add("start", "ray_task", time.perf_counter() - t0)
        say(f"up, first result after {rec.values['start']['ray_task'][0]:.2f}s")
        ks: list[Kind] = []
        guarded(rec, "actors", lambda: ks.extend(kinds()))
        for k in ks:
            guarded(rec, k.column, lambda k=k: workloads(k, p, rec))
        guarded(rec, "actor starts", lambda: actor_starts(p, rec))
        guarded(rec, "objects", lambda: objects(p, rec))
    finally:
        ray.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
