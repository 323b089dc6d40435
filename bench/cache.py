"""Object cache bandwidth and incremental-get savings against a real cache process.

Usage: ``python bench/cache.py [--sizes 1,64,512] [--appends 1000] [--storage memory|disk]
[--markdown]``. Starts ``python -m object_cache`` on a free port (disk storage in a temporary
directory, 512 MiB memory budget) and measures, with one client in this process:
  * put / get bandwidth of a ``bytes`` object of each size (MiB/s, best of 3; get with version 0,
    i.e. a full transfer);
  * upload / download of a file of each size (streamed from/to disk);
  * a replay buffer of N appends (``patch_object`` of 100 small records each) read back after
    every append by a second client: bytes transferred with incremental gets vs. version-0 gets.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.table import print_rows  # noqa: E402
from flamepy.cache import CacheClient, ObjectRef  # noqa: E402

MiB = 1024 * 1024


@contextmanager
def cache_process(storage: str, workdir: Path) -> Iterator[str]:
    port_file = workdir / "port"
    spec = "memory" if storage == "memory" else str(workdir / "store")
    args = [sys.executable, "-m", "object_cache", "--port", "0", "--storage", spec,
            "--memory-budget", "512m", "--port-file", str(port_file), "--log-level", "WARNING"]  # fmt: skip
    proc = subprocess.Popen(args, cwd=ROOT)
    try:
        deadline = time.monotonic() + 30
        while not port_file.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("object cache did not start")
            time.sleep(0.05)
        yield f"grpc://127.0.0.1:{port_file.read_text().strip()}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def bandwidth(endpoint: str, size_mib: int, workdir: Path, repeat: int) -> dict[str, float]:
    data = os.urandom(MiB) * size_mib
    out: dict[str, float] = {}
    with CacheClient(endpoint, max_bytes=0) as c:  # no local cache: every get goes to the server
        ref = c.put_object("bench/bw", data)
        full = ObjectRef(ref.endpoint, ref.key, 0)
        out["put"] = size_mib / best(lambda: c.put_object(ref.key, data), repeat)
        out["get"] = size_mib / best(lambda: c.get_object(full), repeat)
        src, dst = workdir / "src.bin", workdir / "dst.bin"
        src.write_bytes(data)
        out["upload"] = size_mib / best(lambda: c.upload_object(ref.key, src), repeat)
        out["download"] = size_mib / best(lambda: c.download_object(full, dst), repeat)
        src.unlink()
        dst.unlink()
        c.delete_objects("bench/bw")
    return out


def replay_buffer(endpoint: str, appends: int) -> dict[str, float]:
    def merge(base: list[tuple[int, float]], deltas: list[list[tuple[int, float]]]) -> int:
        return len(base) + sum(len(d) for d in deltas)

    with CacheClient(endpoint) as writer, CacheClient(endpoint) as inc, CacheClient(endpoint) as full:
        ref = writer.put_object("bench/replay", [(0, 0.0)] * 100)
        t_inc = t_full = 0.0
        for i in range(appends):
            ref = writer.patch_object(ref, [(i, float(j)) for j in range(100)])
            t0 = time.perf_counter()
            n = inc.get_object(ref, merge)
            t1 = time.perf_counter()
            m = full.get_object(ObjectRef(ref.endpoint, ref.key, 0), merge)
            t_full += time.perf_counter() - t1
            t_inc += t1 - t0
            assert n == m == 100 * (i + 2)
        writer.delete_objects("bench/replay")
        return {
            "incremental_bytes": inc.stats.bytes_received,
            "full_bytes": full.stats.bytes_received,
            "incremental_ms": 1000 * t_inc / appends,
            "full_ms": 1000 * t_full / appends,
        }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="1,64,512", help="object sizes in MiB (comma separated)")
    p.add_argument("--appends", type=int, default=1000)
    p.add_argument("--storage", choices=("disk", "memory"), default="disk")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--markdown", action="store_true")
    a = p.parse_args()
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp, cache_process(a.storage, Path(tmp)) as endpoint:
        for size in (int(s) for s in a.sizes.split(",")):
            bw = bandwidth(endpoint, size, Path(tmp), a.repeat if size < 512 else 1)
            for op, value in bw.items():
                rows.append((f"{op} {size} MiB ({a.storage})", f"{value:.0f} MiB/s"))
        rb = replay_buffer(endpoint, a.appends)
    saving = rb["full_bytes"] / max(1, rb["incremental_bytes"])
    rows += [
        (
            f"replay buffer, {a.appends} appends: bytes with incremental gets",
            f"{rb['incremental_bytes'] / MiB:.1f} MiB",
        ),
        (
            f"replay buffer, {a.appends} appends: bytes with full gets (version 0)",
            f"{rb['full_bytes'] / MiB:.1f} MiB",
        ),
        ("replay buffer: transfer saved by incremental gets", f"{saving:.0f}x"),
        (
            "replay buffer: mean get, incremental / full",
            f"{rb['incremental_ms']:.2f} ms / {rb['full_ms']:.2f} ms",
        ),
    ]
    header = f"{platform.node()} {os.cpu_count()} CPUs, Python {platform.python_version()}"
    print_rows(header, rows, a.markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
