"""Medians, ratios, the printed table, the Markdown section and the PNG chart.

Pure formatting over ``{row: {column: [values]}}`` (plus ``notes``), so the test suite can run it on
fake numbers without Ray, Dask or matplotlib (matplotlib is imported only by :func:`write_chart`).

Every ratio is oriented so that **> 1 means Flame is better**: Flame/peer for rates (higher is
better), peer/Flame for times and sizes (lower is better).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bench.peers.common import Params, median

FLAME = "flame"
FLOOR = "grpc"


@dataclass(frozen=True)
class Column:
    key: str
    label: str


COLUMNS: tuple[Column, ...] = (
    Column(FLAME, "Flame (SDK)"),
    Column("flame_wire", "Flame, flame.v1 wire client"),
    Column("ray_task", "Ray task"),
    Column("ray_actor", "Ray actor"),
    Column("ray_async", "Ray async actor"),
    Column("dask_task", "Dask"),
    Column("dask_actor", "Dask actor"),
    Column(FLOOR, "gRPC floor"),
)
PEERS = ("flame_wire", "ray_task", "ray_actor", "ray_async", "dask_task", "dask_actor")
OUTSIDE_PEERS = ("ray_task", "ray_actor", "ray_async", "dask_task", "dask_actor")
LABEL = {c.key: c.label for c in COLUMNS}


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    unit: str
    higher_is_better: bool
    digits: int = 0  # decimals shown
    comparable: tuple[str, ...] = OUTSIDE_PEERS  # the peers that the "best Ray/Dask" column considers


def rows_for(p: Params) -> list[Row]:
    size = f"{p.payload_bytes / (1 << 20):g} MiB"
    rows = [
        Row("tput", f"(1) throughput, {p.tput_n:,} no-op tasks, one client", "tasks/s", True),
        Row("lat_p50", f"(2) sequential no-op round trip p50 ({p.lat_n:,})", "ms", False, 2),
        Row("lat_p99", f"(2) sequential no-op round trip p99 ({p.lat_n:,})", "ms", False, 2),
        Row(
            "fan",
            f"(3) fan-out {p.fan_n:,} x {p.spin_us / 1000:g} ms CPU, wall (ideal {p.ideal_fan_s:.2f} s)",
            "s",
            False,
            2,
        ),
        Row("payload", f"(4) {size} in + {size} out, {p.payload_n:,} tasks", "tasks/s", True),
    ]
    rows += [Row(f"obj_{m}", f"(4) object put+get {m} MiB", "GiB/s", True, 2) for m in p.object_mib]
    rows += [
        # Only a Ray actor also starts a new process; a Dask actor is created in a running worker.
        Row(
            "cold",
            "(5) cold start: create session → first result, new process",
            "s",
            False,
            2,
            comparable=("ray_actor",),
        ),
        Row("warm", "(5) warm reuse: 2nd session of the same app → first result", "s", False, 2),
        Row("start", "(5) cluster start → first result (one run)", "s", False, 2),
        Row("scale_rate", f"(6) {p.scale_n:,} queued tasks in one session: submit rate", "tasks/s", True),
        Row("scale_rss", f"(6) {p.scale_n:,} queued tasks: session manager RSS", "MiB", False),
        Row("scale_bpt", f"(6) {p.scale_n:,} queued tasks: RSS growth per task", "bytes", False),
        Row("sess_create", f"(6) {p.sessions_n:,} concurrent sessions: create rate", "sessions/s", True),
        Row("sess_rss", f"(6) {p.sessions_n:,} open sessions: session manager RSS", "MiB", False),
        Row(
            "sess_run",
            f"(6) {p.sessions_run_n:,} of the open sessions: 1 task each, all results",
            "s",
            False,
            2,
        ),
        Row("sess_close", f"(6) {p.sessions_n:,} sessions: close rate", "sessions/s", True),
    ]
    return rows


def medians(values: Mapping[str, Mapping[str, list[float]]]) -> dict[str, dict[str, float]]:
    return {row: {col: median(vs) for col, vs in cols.items() if vs} for row, cols in values.items()}


def counts_of(values: Mapping[str, Mapping[str, list[float]]]) -> dict[str, dict[str, int]]:
    return {row: {col: len(vs) for col, vs in cols.items()} for row, cols in values.items()}


@dataclass(frozen=True)
class Goal:
    text: str
    measured: str
    met: bool | None  # None: not measured


def goals(med: Mapping[str, Mapping[str, float]]) -> list[Goal]:
    """Issue 5's goals, checked against this run's medians."""

    def get(row: str, col: str) -> float | None:
        return med.get(row, {}).get(col)

    out: list[Goal] = []

    def vs(text: str, row: str, col: str, factor: float, higher: bool) -> None:
        f, o = get(row, FLAME), get(row, col)
        if f is None or o is None:
            out.append(Goal(text, "not measured", None))
            return
        r = f / o if higher else o / f
        out.append(Goal(text, f"{r:.2f}x (need {factor:g}x)", r >= factor))

    vs("throughput ≥ 2x Ray tasks", "tput", "ray_task", 2.0, True)
    vs("throughput ≥ Ray async actor calls", "tput", "ray_async", 1.0, True)
    vs("throughput ≥ 5x Dask", "tput", "dask_task", 5.0, True)
    vs("sequential p50 ≤ Ray actor call p50", "lat_p50", "ray_actor", 1.0, False)
    p50, p99 = get("lat_p50", FLAME), get("lat_p99", FLAME)
    if p50 and p99:
        out.append(Goal("sequential p99 ≤ 2x p50", f"p99/p50 = {p99 / p50:.2f}", p99 <= 2 * p50))
    else:
        out.append(Goal("sequential p99 ≤ 2x p50", "not measured", None))
    vs("object put+get 64 MiB ≥ Ray put+get", "obj_64", "ray_task", 1.0, True)
    cold = get("cold", FLAME)
    out.append(
        Goal(
            "cold start ≤ 1 s",
            f"{cold:.2f} s" if cold else "not measured",
            None if cold is None else cold <= 1,
        )
    )
    rss = get("scale_rss", FLAME)
    out.append(
        Goal(
            "200,000 queued tasks ≤ 1 GiB session manager RSS",
            f"{rss:,.0f} MiB" if rss else "not measured",
            None if rss is None else rss <= 1024,
        )
    )
    return out


def ratio(row: Row, flame: float | None, peer: float | None) -> float | None:
    """How many times better Flame is than ``peer`` on ``row`` (> 1: Flame better)."""
    if flame is None or peer is None or flame <= 0 or peer <= 0:
        return None
    return flame / peer if row.higher_is_better else peer / flame


def fmt_value(row: Row, value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.{row.digits}f}"


def fmt_ratio(r: float | None) -> str:
    if r is None:
        return ""
    return f"{r:.2f}x" if r < 10 else f"{r:.0f}x"


@dataclass(frozen=True)
class Cell:
    value: str
    ratio: str  # "" where there is none (Flame's own column, a missing value)


ONE_SHOT_ROWS = (
    "start",
    "scale_rate",
    "scale_rss",
    "scale_bpt",
    "sess_create",
    "sess_rss",
    "sess_run",
    "sess_close",
)
SINGLE_RUN_MARK = "†"


def build_cells(
    rows: list[Row],
    med: Mapping[str, Mapping[str, float]],
    notes: Mapping[str, str],
    counts: Mapping[str, Mapping[str, int]] | None = None,
) -> list[tuple[Row, dict[str, Cell], str]]:
    """Per row: a cell per column (value + Flame's oriented ratio against it) and the best-peer text.

    A value measured once where repeats were planned gets :data:`SINGLE_RUN_MARK`; a note
    ``"<row>/<column>/n"`` (e.g. a smaller task count) is shown after the value in brackets."""
    out = []
    counts = counts or {}
    for row in rows:
        got = med.get(row.key, {})
        flame = got.get(FLAME)
        cells: dict[str, Cell] = {}
        for col in COLUMNS:
            value = got.get(col.key)
            if value is None:
                text = notes.get(f"{row.key}/{col.key}", "—")
                cells[col.key] = Cell(text, "")
                continue
            r = None if col.key == FLAME else ratio(row, flame, value)
            text = fmt_value(row, value)
            if counts.get(row.key, {}).get(col.key) == 1 and row.key not in ONE_SHOT_ROWS:
                text += SINGLE_RUN_MARK
            extra = notes.get(f"{row.key}/{col.key}/n")
            if extra:
                text += f" [{extra}]"
            cells[col.key] = Cell(text, fmt_ratio(r))
        best = best_peer(row, got)
        best_text = f"{fmt_ratio(ratio(row, flame, got[best]))} vs {LABEL[best]}" if best and flame else "—"
        out.append((row, cells, best_text))
    return out


def best_peer(row: Row, got: Mapping[str, float]) -> str | None:
    """The outside peer (Ray/Dask, among ``row.comparable``) with the best value on ``row``."""
    have = [k for k in row.comparable if got.get(k, 0) > 0]
    if not have:
        return None
    pick = max if row.higher_is_better else min
    return pick(have, key=lambda k: got[k])


HEADER_NOTE = (
    "Each cell: median over repeats; in brackets Flame's ratio against that column, oriented so that "
    "> 1x means Flame is better (rates: Flame ÷ peer; times and sizes: peer ÷ Flame). "
    "The gRPC floor column's ratio is how close Flame gets to a bare Python gRPC echo (1x = at the floor)."
)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def rich_table(
    rows: list[Row],
    med: Mapping[str, Mapping[str, float]],
    notes: Mapping[str, str],
    title: str,
    counts: Mapping[str, Mapping[str, int]] | None = None,
):
    from rich.table import Table

    table = Table(title=title, caption=HEADER_NOTE, show_lines=True)
    table.add_column("workload", max_width=44)
    table.add_column("unit")
    for col in COLUMNS:
        table.add_column(col.label + ("" if col.key == FLAME else "\n(Flame ÷ it)"), justify="right")
    table.add_column("Flame ÷ best Ray/Dask\n(> 1: Flame better)", justify="right")
    for row, cells, best in build_cells(rows, med, notes, counts):
        texts = [
            cells[c.key].value + (f"\n{cells[c.key].ratio}" if cells[c.key].ratio else "") for c in COLUMNS
        ]
        table.add_row(_escape(row.label), row.unit, *map(_escape, texts), _escape(best))
    return table


def markdown_table(
    rows: list[Row],
    med: Mapping[str, Mapping[str, float]],
    notes: Mapping[str, str],
    counts: Mapping[str, Mapping[str, int]] | None = None,
) -> str:
    head = ["workload", "unit", *[c.label for c in COLUMNS], "Flame ÷ best Ray/Dask"]
    lines = ["| " + " | ".join(head) + " |", "|---|---|" + "---:|" * (len(COLUMNS) + 1)]
    for row, cells, best in build_cells(rows, med, notes, counts):
        texts = [
            cells[c.key].value + (f" ({cells[c.key].ratio})" if cells[c.key].ratio else "") for c in COLUMNS
        ]
        lines.append("| " + " | ".join([row.label, row.unit, *texts, best]) + " |")
    return "\n".join(lines)


SECTION = "## Side by side"
_NEXT_SECTION = re.compile(r"^## ", re.MULTILINE)
_THIS_SECTION = re.compile(r"^" + re.escape(SECTION) + r"\b.*$", re.MULTILINE)


def replace_section(document: str, body: str) -> str:
    """``document`` with its "## Side by side" section (up to the next ``## `` heading) replaced by
    ``body`` (which starts with that heading), or ``body`` appended when there is none."""
    body = body.rstrip("\n") + "\n"
    found = _THIS_SECTION.search(document)
    if found is None:
        return document.rstrip("\n") + "\n\n" + body
    start = found.start()
    nxt = _NEXT_SECTION.search(document, found.end())
    end = nxt.start() if nxt else len(document)
    tail = document[end:]
    return document[:start] + body + ("\n" + tail if tail else "")


def chart_series(
    rows: list[Row], med: Mapping[str, Mapping[str, float]]
) -> tuple[list[str], dict[str, list[float | None]]]:
    """Rows that have a Flame value and some comparison, and Flame's ratio against each column."""
    labels: list[str] = []
    series: dict[str, list[float | None]] = {k: [] for k in (*PEERS, FLOOR)}
    for row in rows:
        got = med.get(row.key, {})
        if FLAME not in got or not any(k in got for k in series):
            continue
        labels.append(row.label)
        for k in series:
            series[k].append(ratio(row, got[FLAME], got.get(k)))
    return labels, series


def write_chart(rows: list[Row], med: Mapping[str, Mapping[str, float]], path: Path, title: str) -> bool:
    """A horizontal bar chart of Flame's ratios (log scale, 1x line); False when nothing to draw."""
    labels, series = chart_series(rows, med)
    if not labels:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {
        "flame_wire": "#9e9e9e",
        "ray_task": "#1f77b4",
        "ray_actor": "#6baed6",
        "ray_async": "#08306b",
        "dask_task": "#ff7f0e",
        "dask_actor": "#fdae6b",
        FLOOR: "#2ca02c",
    }
    keys = [k for k in series if any(v is not None for v in series[k])]
    n = len(labels)
    height = 0.8 / max(1, len(keys))
    fig, ax = plt.subplots(figsize=(12, 0.55 * n * max(1, len(keys)) / 3 + 2.5))
    for i, k in enumerate(keys):
        ys = [j + i * height for j in range(n)]
        vals = [v if v is not None else 0 for v in series[k]]
        ax.barh(ys, vals, height=height, color=colors[k], label=f"vs {LABEL[k]}")
        for y, v in zip(ys, series[k], strict=True):
            if v is not None:
                ax.text(v, y, f" {fmt_ratio(v)}", va="center", fontsize=7)
    ax.set_xscale("log")
    ax.axvline(1.0, color="black", linewidth=1)
    ax.set_yticks([j + height * (len(keys) - 1) / 2 for j in range(n)])
    ax.set_yticklabels(labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("Flame's ratio against the peer (> 1: Flame better; log scale)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(axis="x", which="both", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def verdicts(rows: list[Row], med: Mapping[str, Mapping[str, float]]) -> list[str]:
    """One line per row that has both Flame and a Ray/Dask value: Flame against the best of them,
    wins first (largest ratio first)."""
    found: list[tuple[float, str]] = []
    for row in rows:
        got = med.get(row.key, {})
        best = best_peer(row, got)
        flame = got.get(FLAME)
        r = ratio(row, flame, got[best]) if best else None
        if best is None or flame is None or r is None:
            continue
        word = "wins" if r >= 1 else "loses"
        peer = f"{LABEL[best]} {fmt_value(row, got[best])} {row.unit}"
        text = f"**{word}** {row.label}: {fmt_ratio(r)} against {LABEL[best]} "
        found.append((r, text + f"(Flame {fmt_value(row, flame)} {row.unit}, {peer})"))
    return [text for _, text in sorted(found, key=lambda item: -item[0])]
