"""Whole-stack benchmark on a local cluster (session manager + executor manager + 2 executors).

Usage: ``python bench/run.py [--tasks 10000] [--calls 1000] [--tls] [--markdown]`` (or ``make bench``).
Prints a table; ``--markdown`` also prints it as a Markdown table for docs/performance.md. ``--tls``
runs the cluster with TLS (``LocalCluster(tls=True)``); same-host fast paths (local socket) stay
plaintext, the gRPC paths (and the wire client) go through TLS.

Measures, through the real stack with the flmping (echo) service:
  * throughput of N no-op tasks submitted with ``Session.run`` and gathered (tasks/s);
  * sequential ``Session.invoke`` latency over M calls (p50, p99, ms);
  * the same sequential round trip through an independent flame.v1 client
    (CreateTask + WatchTask per task, no SDK fast paths).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import grpc
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import flamepy  # noqa: E402
from flamepy.cluster import LocalCluster  # noqa: E402
from flamepy.proto import frontend_pb2 as fe  # noqa: E402
from flamepy.proto import frontend_pb2_grpc  # noqa: E402
from flamepy.proto import types_pb2 as pb  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    idx = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[idx]


def bench_throughput(conn: flamepy.Connection, n: int) -> float:
    ssn = conn.create_session(flamepy.SessionAttributes(application="flmping", min_instances=2))
    try:
        ssn.invoke(b"warm")
        start = time.perf_counter()
        futs = [ssn.run(b"") for _ in range(n)]
        for f in futs:
            f.result()
        return n / (time.perf_counter() - start)
    finally:
        ssn.close()


def bench_latency(conn: flamepy.Connection, n: int, warmup: int = 1) -> list[float]:
    """Sequential ``Session.invoke(b"")`` on flmping after ``warmup`` calls, ms per call."""
    ssn = conn.create_session(flamepy.SessionAttributes(application="flmping", min_instances=1))
    try:
        for _ in range(warmup):
            ssn.invoke(b"warm")
        out = []
        for _ in range(n):
            t0 = time.perf_counter()
            ssn.invoke(b"")
            out.append((time.perf_counter() - t0) * 1000)
        return out
    finally:
        ssn.close()


def _channel(port: int, ca_file: str | None) -> grpc.Channel:
    if ca_file is None:
        return grpc.insecure_channel(f"127.0.0.1:{port}")
    creds = grpc.ssl_channel_credentials(Path(ca_file).read_bytes())
    return grpc.secure_channel(f"127.0.0.1:{port}", creds)


def bench_wire_latency(port: int, n: int, token: str | None, ca_file: str | None = None) -> list[float]:
    """An independent flame.v1 client: raw stubs, the cluster's token as call metadata."""
    md = (("authorization", f"Bearer {token}"),) if token else ()
    with _channel(port, ca_file) as ch:
        fs = frontend_pb2_grpc.FrontendStub(ch)
        sid = f"wire-bench-{os.getpid()}"
        spec = pb.SessionSpec(application="flmping", min_instances=1)
        fs.CreateSession(fe.CreateSessionRequest(session_id=sid, session=spec), metadata=md)
        out = []
        for i in range(n + 1):
            t0 = time.perf_counter()
            create = fe.CreateTaskRequest(task=pb.TaskSpec(session_id=sid, input=b""))
            task = fs.CreateTask(create, metadata=md)
            for _ in fs.WatchTask(fe.WatchTaskRequest(session_id=sid, task_id=task.metadata.id), metadata=md):
                pass
            if i:  # the first call warms the executor
                out.append((time.perf_counter() - t0) * 1000)
        fs.CloseSession(fe.CloseSessionRequest(session_id=sid), metadata=md)
        return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", type=int, default=10_000)
    ap.add_argument("--calls", type=int, default=1_000)
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--tls", action="store_true", help="run the cluster with TLS")
    opts = ap.parse_args()
    console = Console()
    rows: list[tuple[str, str]] = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        LocalCluster(
            tmp, port=0, executors_env={"FLAME_NODE_CPUS": "2"}, log_level="WARNING", tls=opts.tls
        ) as cluster,
        flamepy.Connection(cluster.endpoint, cluster.ca_file) as conn,
    ):
        with console.status(f"throughput: {opts.tasks} no-op tasks ..."):
            tput = bench_throughput(conn, opts.tasks)
        rows.append(
            (f"throughput, {opts.tasks:,} no-op tasks (run + gather), 2 executors", f"{tput:,.0f} tasks/s")
        )
        with console.status(f"latency: {opts.calls} sequential invokes ..."):
            lat = bench_latency(conn, opts.calls)
        rows.append((f"sequential invoke p50 ({opts.calls:,} calls)", f"{statistics.median(lat):.2f} ms"))
        rows.append((f"sequential invoke p99 ({opts.calls:,} calls)", f"{percentile(lat, 99):.2f} ms"))
        with console.status("independent flame.v1 client latency ..."):
            calls = min(opts.calls, 500)
            wire = bench_wire_latency(cluster.port, calls, cluster.client_token, cluster.ca_file)
        rows.append(("wire client CreateTask+WatchTask p50", f"{statistics.median(wire):.2f} ms"))
        rows.append(("wire client CreateTask+WatchTask p99", f"{percentile(wire, 99):.2f} ms"))

    machine = f"{platform.node()} ({os.cpu_count()} CPUs, Python {platform.python_version()})"
    table = Table(title=f"Flame for Python — {machine}{' — TLS' if opts.tls else ''}")
    table.add_column("benchmark")
    table.add_column("result", justify="right")
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
    if opts.markdown:
        print("\n| benchmark | result |\n|---|---:|")
        for name, value in rows:
            print(f"| {name} | {value} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
