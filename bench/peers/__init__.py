"""Side-by-side benchmark suite: Flame vs Ray vs Dask vs a bare gRPC floor, in one run.

Run ``make bench-all`` (or ``bench/.venv-peers/bin/python -m bench.peers [--quick]``). Each system
runs in its own subprocess (``python -m bench.peers.sys_<name>``), one after another, and writes its
raw measurements as JSON; :mod:`bench.peers.main` takes medians, prints one table of ratios and
writes ``docs/performance.md``'s "Side by side" section and ``docs/bench.png``.

Only :mod:`bench.peers.report` and :mod:`bench.peers.common` are imported by the test suite; they
need neither Ray nor Dask nor matplotlib.
"""
