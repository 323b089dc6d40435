"""The driver: run each system in its own subprocess, one after another, then report.

    bench/.venv-peers/bin/python -m bench.peers            # the whole suite (< 15 min on 2 cores)
    bench/.venv-peers/bin/python -m bench.peers --quick    # smaller sizes (~3 min), prints only
    bench/.venv-peers/bin/python -m bench.peers --only flame,grpc

``make bench-all`` creates ``bench/.venv-peers`` (Ray, Dask, matplotlib and this project, editable)
and runs the full suite, which writes ``docs/performance.md``'s "Side by side" section and
``docs/bench.png``; raw numbers go to ``bench/results/side-by-side-<time>.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.peers import report
from bench.peers.common import Params

ROOT = Path(__file__).resolve().parents[2]
SYSTEMS = ("grpc", "flame", "ray", "dask")
# Hard limits per system subprocess (s); the workloads' own time budgets keep them well under.
DEADLINE_S = {"grpc": 120, "flame": 420, "ray": 300, "dask": 420}
QUICK_DEADLINE_S = 150
DOC = ROOT / "docs" / "performance.md"
CHART = ROOT / "docs" / "bench.png"


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import psutil

        info["memory_gib"] = round(psutil.virtual_memory().total / 2**30)
    except ImportError:
        pass
    return info


def run_system(name: str, params: Params, out: Path, deadline: float) -> dict[str, Any]:
    """Run ``bench.peers.sys_<name>`` to completion or its deadline; its (possibly partial) results."""
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0", "PYTHONUNBUFFERED": "1"}
    args = [sys.executable, "-m", f"bench.peers.sys_{name}", json.dumps(params.to_json()), str(out)]
    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, cwd=ROOT, env=env, start_new_session=True)
    timed_out = False
    try:
        proc.wait(deadline)
    except subprocess.TimeoutExpired:
        timed_out = True
        print(f"{name}: past its {deadline:.0f}s deadline, stopping it", file=sys.stderr)
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(20)
    took = time.perf_counter() - t0
    try:
        doc = json.loads(out.read_text())
    except (OSError, ValueError):
        doc = {"system": name, "values": {}, "notes": {}, "meta": {}}
    doc["meta"].update(
        seconds=round(took, 1),
        exit_code=proc.returncode,
        timed_out=timed_out,
        load_before=round(load_before, 2),
        load_after=round(os.getloadavg()[0], 2),
    )
    if timed_out:
        doc["notes"][f"error/{name}"] = (
            f"stopped at its {deadline:.0f}s deadline; rows after that are missing"
        )
    elif proc.returncode:
        doc["notes"][f"error/{name}"] = f"exited with code {proc.returncode}"
    return doc


def merge(docs: list[dict[str, Any]]) -> tuple[dict[str, dict[str, list[float]]], dict[str, str]]:
    values: dict[str, dict[str, list[float]]] = {}
    notes: dict[str, str] = {}
    for doc in docs:
        for row, cols in doc["values"].items():
            for col, vs in cols.items():
                values.setdefault(row, {}).setdefault(col, []).extend(vs)
        notes.update(doc["notes"])
    return values, notes


def section(
    params: Params,
    rows: list[report.Row],
    med: dict[str, dict[str, float]],
    counts: dict[str, dict[str, int]],
    notes: dict[str, str],
    docs: list[dict[str, Any]],
    info: dict[str, Any],
    started: str,
    total_s: float,
) -> str:
    lines = [
        *_run_header(docs, info, started, total_s),
        *_COMMANDS,
        *_how_each_runs(params),
        *_results(rows, med, counts, notes),
    ]
    return "\n".join(lines) + "\n"


def _run_header(docs: list[dict[str, Any]], info: dict[str, Any], started: str, total_s: float) -> list[str]:
    metas = {d["system"]: d["meta"] for d in docs}
    versions = ", ".join(
        f"{k} {v}"
        for d in docs
        for k, v in d["meta"].items()
        if k in ("grpcio", "ray", "dask", "distributed")
    )
    loads = ", ".join(f"{s} {m['load_before']}→{m['load_after']}" for s, m in metas.items())
    times = ", ".join(f"{s} {m['seconds']:.0f} s" for s, m in metas.items())
    return [
        report.SECTION + ": Flame vs Ray vs Dask vs the gRPC floor, one run",
        "",
        f"Machine: {info.get('cpus')} vCPUs ({info.get('cpu', '?')}), {info.get('memory_gib', '?')} GiB, "
        f"{info.get('os')}, Python {info.get('python')}; {versions}. Run started {started}, "
        f"took {total_s / 60:.1f} min ({times}). 1-minute load average before→after each system: "
        f"{loads} — the VM is shared with other work, so expect run-to-run noise of tens of percent.",
        "",
    ]


_COMMANDS = [
    "Commands:",
    "- `make bench-all` — creates `bench/.venv-peers` (Ray, Dask, matplotlib and this project, "
    "editable; the project's `.venv` stays small) and runs the whole suite; rewrites this section and "
    "`docs/bench.png`; raw numbers in `bench/results/`.",
    "- `make bench-all BENCH_ARGS=--quick` — small sizes, ~3 min, prints the table only (`--docs` writes).",
    "- `bench/.venv-peers/bin/python -m bench.peers --only flame,grpc` — some systems only.",
    "",
]


def _how_each_runs(params: Params) -> list[str]:
    return [
        "How each column runs (each system in its own subprocess, one after another, same sizes):",
        "- **Flame (SDK)**: `LocalCluster` (session manager + executor manager, `FLAME_NODE_CPUS=2` → "
        "2 executors); no-op/payload tasks on `flmping` (echo), fan-out on `bench/peers/flame_service.py`; "
        "`Session.run` futures (throughput, fan-out, payload), `Session.invoke` (latency).",
        "- **Flame, flame.v1 wire client**: raw `flamepy.proto` stubs, CreateTask per task then WatchTask "
        f"per task to its end, {params.wire_inflight} RPCs in flight — what an independent client gets "
        "without the SDK's fast paths (`CreateTasks` batches, one `WatchSession` stream, `RunTask`).",
        "- **Ray**: `ray.init(num_cpus=2)`, `RAY_AUTH_MODE=disabled`; remote functions, 2 actors, "
        "2 async actors (`async def`), calls round-robin, `ray.get` of the list; "
        "objects `ray.put`+`ray.get`.",
        "- **Dask**: `LocalCluster(n_workers=2, threads_per_worker=1, processes=True)`, `Client.map(..., "
        "pure=False)` + `gather`; 2 actors (`actor=True`), round-robin; objects `scatter`+`result`; "
        "cold/warm = new actor in a running worker, warm also = a new `Client` → first result.",
        "- **gRPC floor**: a bare Python gRPC unary echo (bytes, no protobuf) to another process on "
        "127.0.0.1: sequential round trips, pipelined `.future()` calls (512 in flight), 1 MiB echoes; "
        "cold = spawn the server process → first answer.",
        f"- Medians of up to {params.repeats} repeats per cell; a workload stops repeating once it has "
        f"taken {params.budget_s:.0f} s ({report.SINGLE_RUN_MARK}: one run only). Cold/warm: "
        f"{params.cold_n} rounds, each with a newly registered app. Scale rows (6) are one run, Flame only: "
        "the queued tasks' session asks for `cpu=64`, which no node has, so all of them stay Pending.",
        "",
    ]


def _results(
    rows: list[report.Row],
    med: dict[str, dict[str, float]],
    counts: dict[str, dict[str, int]],
    notes: dict[str, str],
) -> list[str]:
    lines = [
        report.HEADER_NOTE,
        "",
        report.markdown_table(rows, med, notes, counts),
        "",
        "![Flame's ratio against each peer, per workload](bench.png)",
        "",
        "### Performance goals, this run",
        "| goal | measured | met |",
        "|---|---|---|",
    ]
    for g in report.goals(med):
        lines.append(
            f"| {g.text} | {g.measured} | {'—' if g.met is None else ('yes' if g.met else '**no**')} |"
        )
    lines += ["", "### Where Flame wins and loses, this run (against the best of Ray/Dask per row)"]
    lines += [f"- {text}" for text in report.verdicts(rows, med)]
    problems = {k: v for k, v in notes.items() if k.startswith("error/")}
    if problems:
        lines += ["", "### Problems in this run"]
        lines += [f"- {k.removeprefix('error/')}: {v}" for k, v in sorted(problems.items())]
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes (~3 min); prints only unless --docs")
    ap.add_argument(
        "--only", default=",".join(SYSTEMS), help=f"comma-separated subset of {','.join(SYSTEMS)}"
    )
    ap.add_argument("--repeats", type=int, help="repeats per workload (default 3, quick 2)")
    ap.add_argument("--docs", action="store_true", help="write docs/performance.md and docs/bench.png")
    ap.add_argument("--no-docs", action="store_true", help="do not write the docs (full run)")
    opts = ap.parse_args(argv)
    params = Params.quick_run() if opts.quick else Params.full()
    if opts.repeats:
        params = Params.from_json({**params.to_json(), "repeats": opts.repeats})
    systems = [s.strip() for s in opts.only.split(",") if s.strip()]
    unknown = set(systems) - set(SYSTEMS)
    if unknown:
        ap.error(f"unknown systems: {', '.join(sorted(unknown))}")
    write_docs = (opts.docs or not opts.quick) and not opts.no_docs

    started = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    docs = []
    for name in systems:
        print(f"== {name} ==", file=sys.stderr, flush=True)
        deadline = QUICK_DEADLINE_S if params.quick else DEADLINE_S[name]
        docs.append(run_system(name, params, results / f"{stamp}-{name}.json", deadline))
    total = time.perf_counter() - t0

    values, notes = merge(docs)
    info = machine()
    (results / f"side-by-side-{stamp}.json").write_text(
        json.dumps({"params": params.to_json(), "machine": info, "systems": docs}, indent=1)
    )
    rows = report.rows_for(params)
    med, counts = report.medians(values), report.counts_of(values)
    from rich.console import Console

    console = Console(width=max(200, Console().width))
    title = f"Flame vs Ray vs Dask — {info.get('cpus')} CPUs, Python {info.get('python')}"
    title += " (quick)" if params.quick else ""
    console.print(report.rich_table(rows, med, notes, title, counts))
    for g in report.goals(med):
        mark = "—" if g.met is None else ("met" if g.met else "MISSED")
        console.print(f"goal: {g.text}: {g.measured} [{mark}]", markup=False)
    for k, v in sorted(notes.items()):
        if k.startswith("error/"):
            console.print(f"problem: {k.removeprefix('error/')}: {v}", markup=False, style="red")
    console.print(f"total {total / 60:.1f} min; raw numbers in {results}/side-by-side-{stamp}.json")
    if write_docs:
        body = section(params, rows, med, counts, notes, docs, info, started, total)
        text = DOC.read_text() if DOC.exists() else "# Performance\n"  # re-read right before writing
        DOC.write_text(report.replace_section(text, body))
        drawn = report.write_chart(rows, med, CHART, title)
        console.print(f"wrote {DOC.relative_to(ROOT)}" + (f" and {CHART.relative_to(ROOT)}" if drawn else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
