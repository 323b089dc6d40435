"""Runner benchmark on a local cluster (object cache + session manager + executor manager, 2 executors).

Usage, from the repository root: ``.venv/bin/python bench/runner.py [--calls 500] [--map 1000]
[--repeat 3] [--markdown]`` (or ``make bench-runner``). The Runner packages a directory and its
services import the shipped functions from that package; this script packages the repository root
(``Runner(root=...)``, whatever the working directory) and ships ``bench.runner_funcs``, so the
repository root is the package either way; running from the root is what ``make`` does.

Measures, through the real stack:
  * Runner call overhead: sequential ``svc().get()`` of a no-op function over N calls after a
    warm-up (p50, p99, ms; a small result comes back inline in the task's output); for reference,
    sequential ``Session.invoke(b"")`` and ``Session.run(b"").result()`` on the ``flmping`` echo
    service in the same cluster and run, and what a result too big to come inline adds: a cache
    ``put_object`` from the service (measured from here, another client of the same cache);
  * map throughput: ``runner.get([svc(i) for i in range(M)])`` of a trivial function (calls/s and
    wall time, median of the runs), next to M plain ``Session.run(b"")`` tasks on ``flmping``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import flamepy  # noqa: E402
from bench import runner_funcs  # noqa: E402
from bench.run import bench_latency  # noqa: E402
from bench.table import print_rows  # noqa: E402
from flamepy.cache import client_for, reset_default_clients  # noqa: E402
from flamepy.cluster import LocalCluster  # noqa: E402
from flamepy.runner import Runner, RunnerService  # noqa: E402

EXECUTORS = 2


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    idx = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[idx]


def progress(what: str) -> None:
    print(f"... {what}", file=sys.stderr, flush=True)


def run_throughput(conn: flamepy.Connection, n: int, repeat: int) -> list[float]:
    """Wall seconds of ``n`` ``Session.run(b"")`` tasks on flmping, gathered, ``repeat`` times."""
    ssn = conn.create_session(flamepy.SessionAttributes(application="flmping", min_instances=EXECUTORS))
    try:
        for f in [ssn.run(b"") for _ in range(50)]:
            f.result()
        return [timed(lambda: [f.result() for f in [ssn.run(b"") for _ in range(n)]]) for _ in range(repeat)]
    finally:
        ssn.close()


def runner_latency(svc: RunnerService, n: int, warmup: int) -> list[float]:
    """Sequential ``svc().get()``: ms per call."""
    for _ in range(warmup):
        svc().get()
    total = []
    for _ in range(n):
        t0 = time.perf_counter()
        svc().get()
        total.append((time.perf_counter() - t0) * 1000)
    return total


def run_latency(conn: flamepy.Connection, n: int, warmup: int) -> list[float]:
    """Sequential ``Session.run(b"").result()`` on flmping: ms per call (the Runner's task path)."""
    with conn.create_session(flamepy.SessionAttributes(application="flmping")) as ssn:
        for _ in range(warmup):
            ssn.run(b"").result()
        out = []
        for _ in range(n):
            t0 = time.perf_counter()
            ssn.run(b"").result()
            out.append((time.perf_counter() - t0) * 1000)
    return out


def put_latency(n: int) -> list[float]:
    """ms of ``put_object`` of a ``None`` result into the cluster's cache from here: what the
    service does with every result before it answers (the service is another client of the same
    cache on the same host)."""
    client = client_for()
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        client.put_object("bench-runner/put-probe", None)
        out.append((time.perf_counter() - t0) * 1000)
    client.delete_objects("bench-runner/put-probe")
    return out


def runner_map(runner: Runner, svc: RunnerService, n: int, repeat: int) -> list[float]:
    """Wall seconds of ``runner.get([svc(i) for i in range(n)])``, ``repeat`` times (checked)."""
    runner.get([svc(i) for i in range(50)])  # loads the function in both executors
    expected = sum(i * i for i in range(n))
    walls = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        results = runner.get([svc(i) for i in range(n)])
        walls.append(time.perf_counter() - t0)
        if sum(results) != expected:
            raise SystemExit("map returned wrong results")
    return walls


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=500, help="sequential calls per latency benchmark")
    ap.add_argument("--map", type=int, default=1000, help="calls per map run")
    ap.add_argument("--repeat", type=int, default=3, help="map runs (the median is reported)")
    ap.add_argument("--warmup", type=int, default=50, help="untimed sequential calls before each latency run")
    ap.add_argument("--markdown", action="store_true")
    return ap.parse_args()


def measure(opts: argparse.Namespace) -> dict[str, list[float]]:
    """Every measurement, on a fresh local cluster: ``plain``/``runs`` (Session.invoke/run latency,
    ms), ``plain_walls`` (Session.run map, s), and :func:`measure_runner`'s."""
    with (
        tempfile.TemporaryDirectory() as tmp,
        LocalCluster(
            tmp, port=0, executors_env={"FLAME_NODE_CPUS": str(EXECUTORS)}, log_level="WARNING"
        ) as cluster,
        flamepy.Connection(cluster.endpoint) as conn,
    ):
        # What Runner reads (as tests/runner/conftest.py sets it up): this cluster, no flame.yaml.
        os.environ["FLAME_CONFIG"] = str(Path(tmp) / "no-such-flame.yaml")
        os.environ["FLAME_ENDPOINT"] = cluster.endpoint
        os.environ["FLAME_CACHE_ENDPOINT"] = cluster.cache_endpoint
        try:
            progress(f"Session.invoke: {opts.calls} sequential calls on flmping")
            plain = bench_latency(conn, opts.calls, opts.warmup)
            runs = run_latency(conn, opts.calls, opts.warmup)
            progress(f"Session.run: {opts.map} tasks on flmping x {opts.repeat}")
            plain_walls = run_throughput(conn, opts.map, opts.repeat)
            return {"plain": plain, "runs": runs, "plain_walls": plain_walls, **measure_runner(opts)}
        finally:
            reset_default_clients()


def measure_runner(opts: argparse.Namespace) -> dict[str, list[float]]:
    """``total`` (Runner svc().get() latency, ms), ``puts`` (cache put_object, ms) and ``walls``
    (Runner map, s)."""
    with Runner("bench-runner", root=ROOT) as runner:
        assert runner.package is not None
        files = runner.package.files
        progress(f"Runner: {opts.calls} sequential svc().get() (package of {files} files)")
        svc = runner.service(runner_funcs.noop, warmup=1)
        total = runner_latency(svc, opts.calls, opts.warmup)
        svc.close()
        puts = put_latency(opts.calls)
        progress(f"Runner: map of {opts.map} calls x {opts.repeat}")
        squares = runner.service(runner_funcs.square, warmup=EXECUTORS)
        walls = runner_map(runner, squares, opts.map, opts.repeat)
    return {"total": total, "puts": puts, "walls": walls}


def result_rows(opts: argparse.Namespace, m: dict[str, list[float]]) -> list[tuple[str, str]]:
    plain, runs, total, puts = m["plain"], m["runs"], m["total"], m["puts"]
    p50_run, p50_runner = statistics.median(runs), statistics.median(total)
    n, mm = f"{opts.calls:,}", f"{opts.map:,}"
    wall, plain_wall = statistics.median(m["walls"]), statistics.median(m["plain_walls"])
    return [
        (f'Session.invoke(b"") on flmping, p50 / p99 ({n} sequential calls)',
         f"{statistics.median(plain):.2f} / {percentile(plain, 99):.2f} ms"),
        (f'Session.run(b"").result() on flmping, p50 / p99 ({n} sequential calls)',
         f"{p50_run:.2f} / {percentile(runs, 99):.2f} ms"),
        (f"Runner svc().get() no-op, p50 / p99 ({n} sequential calls)",
         f"{p50_runner:.2f} / {percentile(total, 99):.2f} ms"),
        ("Runner added cost per call over Session.run, p50",
         f"{p50_runner - p50_run:+.2f} ms ({p50_runner / p50_run:.1f}x)"),
        ("+ a result over 64 KiB: cache put_object from the service, p50 / p99",
         f"{statistics.median(puts):.2f} / {percentile(puts, 99):.2f} ms"),
        (f"Runner map, runner.get([svc(i) for i in range({opts.map})]), {EXECUTORS} executors",
         f"{opts.map / wall:,.0f} calls/s ({wall:.2f} s)"),
        (f'Session.run(b"") x {mm} on flmping, gathered, {EXECUTORS} executors',
         f"{opts.map / plain_wall:,.0f} tasks/s ({plain_wall:.2f} s)"),
    ]  # fmt: skip


def main() -> int:
    opts = parse_args()
    started = time.perf_counter()
    rows = result_rows(opts, measure(opts))
    header = (
        f"{platform.node()} ({os.cpu_count()} CPUs, Python {platform.python_version()}); "
        f"map: median of {opts.repeat} runs; whole run {time.perf_counter() - started:.0f} s"
    )
    print_rows(header, rows, opts.markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
