"""Smoke test of the side-by-side benchmark suite (bench/peers): its modules import without Ray,
Dask or matplotlib, and the table/ratio/Markdown formatting works on fake numbers. Runs nothing."""

from __future__ import annotations

import importlib
import io

import pytest

from bench.peers import common, main, report

FAKE = {
    "tput": {"flame": [1000.0, 1200.0, 800.0], "ray_task": [500.0], "ray_async": [2000.0], "grpc": [4000.0]},
    "lat_p50": {"flame": [2.0, 2.0], "ray_actor": [1.0, 1.0], "dask_task": [10.0]},
    "lat_p99": {"flame": [3.0], "ray_actor": [2.0]},
    "cold": {"flame": [0.5], "ray_actor": [1.0], "dask_actor": [0.01]},
    "scale_rss": {"flame": [300.0]},
}


@pytest.mark.parametrize(
    "name",
    ["common", "report", "main", "sys_flame", "sys_grpc", "sys_ray", "sys_dask", "flame_service"],
)
def test_every_bench_module_imports(name):
    importlib.import_module(f"bench.peers.{name}")


def test_ratios_are_oriented_so_that_above_one_means_flame_is_better():
    rows = {r.key: r for r in report.rows_for(common.Params.full())}
    assert report.ratio(rows["tput"], 1000, 500) == 2.0  # rate: Flame / peer
    assert report.ratio(rows["lat_p50"], 2.0, 1.0) == 0.5  # time: peer / Flame
    assert report.ratio(rows["tput"], None, 500) is None
    assert report.ratio(rows["tput"], 1000, 0) is None


def test_cells_medians_and_best_peer():
    params = common.Params.full()
    rows = report.rows_for(params)
    med = report.medians(FAKE)
    assert med["tput"]["flame"] == 1000.0
    cells = {row.key: (c, best) for row, c, best in report.build_cells(rows, med, {}, report.counts_of(FAKE))}
    tput, best = cells["tput"]
    assert tput["flame"].value == "1,000" and tput["flame"].ratio == ""
    assert tput["ray_task"].value.startswith("500") and tput["ray_task"].ratio == "2.00x"
    assert tput["ray_task"].value.endswith(report.SINGLE_RUN_MARK)  # one run where 3 were planned
    assert tput["grpc"].ratio == "0.25x"
    assert best == "0.50x vs Ray async actor"  # the best of Ray/Dask, not the floor
    lat, best = cells["lat_p50"]
    assert lat["ray_actor"].ratio == "0.50x" and lat["dask_task"].ratio == "5.00x"
    assert best == "0.50x vs Ray actor"
    _, best = cells["cold"]
    assert best == "2.00x vs Ray actor"  # a Dask actor starts no process: not compared
    missing, best = cells["sess_run"]
    assert missing["flame"].value == "—" and best == "—"


def test_notes_fill_cells():
    rows = report.rows_for(common.Params.quick_run())
    notes = {"obj_64/flame": "n/a (not built)", "tput/flame_wire/n": "5,000 tasks"}
    med = {"tput": {"flame": 10.0, "flame_wire": 5.0}}
    cells = {row.key: c for row, c, _ in report.build_cells(rows, med, notes)}
    assert cells["obj_64"]["flame"].value == "n/a (not built)"
    assert cells["tput"]["flame_wire"].value == "5 [5,000 tasks]"


def test_tables_render():
    rows = report.rows_for(common.Params.full())
    med = report.medians(FAKE)
    md = report.markdown_table(rows, med, {}, report.counts_of(FAKE))
    lines = md.splitlines()
    assert lines[0].startswith("| workload | unit | Flame (SDK) |")
    assert len(lines) == 2 + len(rows)
    assert all(line.count("|") == lines[0].count("|") for line in lines)
    assert "| 500† (2.00x) |" in md
    from rich.console import Console

    out = io.StringIO()
    Console(file=out, width=250).print(report.rich_table(rows, med, {}, "fake", report.counts_of(FAKE)))
    assert "Ray async actor" in out.getvalue() and "2.00x" in out.getvalue()


def test_goals_and_verdicts():
    med = report.medians(FAKE)
    goals = {g.text: g for g in report.goals(med)}
    assert goals["throughput ≥ 2x Ray tasks"].met is True
    assert goals["throughput ≥ Ray async actor calls"].met is False
    assert goals["sequential p99 ≤ 2x p50"].met is True
    assert goals["cold start ≤ 1 s"].met is True
    assert goals["object put+get 64 MiB ≥ Ray put+get"].met is None
    lines = report.verdicts(report.rows_for(common.Params.full()), med)
    assert lines[0].startswith("**wins** (5) cold start")
    assert any(line.startswith("**loses** (1) throughput") for line in lines)


def test_replace_section_keeps_the_other_sections():
    doc = "# Performance\n\n## Whole stack\nold numbers\n\n## Side by side (x)\nstale\n\n## Later\nkept\n"
    new = report.replace_section(doc, "## Side by side (issue 5)\nfresh\n")
    assert "stale" not in new and "fresh" in new
    assert new.index("## Whole stack") < new.index("fresh") < new.index("## Later\nkept")
    appended = report.replace_section("# Performance\n\n## Whole stack\nx\n", "## Side by side\ny\n")
    assert appended.endswith("## Whole stack\nx\n\n## Side by side\ny\n")


def test_section_text_from_fake_run():
    params = common.Params.full()
    rows = report.rows_for(params)
    docs = [
        {"system": "flame", "values": {}, "notes": {}, "meta": {"seconds": 1.0, "load_before": 1, "load_after": 2}},
        {"system": "ray", "values": {}, "notes": {"error/ray": "boom"}, "meta": {"seconds": 2.0, "ray": "2.60.0",
                                                                                 "load_before": 1, "load_after": 1}},
    ]
    values, notes = main.merge(docs)
    med = report.medians(FAKE)
    text = main.section(params, rows, med, report.counts_of(FAKE), notes, docs, {"cpus": 2}, "now", 60.0)
    assert text.startswith(report.SECTION)
    assert "ray 2.60.0" in text and "- ray: boom" in text and "![" in text


def test_params_and_statistics():
    quick = common.Params.quick_run()
    assert common.Params.from_json(quick.to_json()) == quick
    assert list(common.Params(repeats=3, budget_s=100).rounds()) == [0, 1, 2]
    assert list(common.Params(repeats=3, budget_s=-1).rounds()) == [0]  # always at least one
    assert common.percentile(range(1, 101), 99) == 99
    assert common.percentile([5.0], 50) == 5.0
    assert common.Params.full().ideal_fan_s == 1.0
