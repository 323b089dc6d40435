"""The plain name/value table the bench scripts print, and its Markdown form for docs/performance.md."""

from __future__ import annotations

from collections.abc import Sequence


def print_rows(header: str, rows: Sequence[tuple[str, str]], markdown: bool) -> None:
    """``header`` as a comment line, then one aligned line per row; with ``markdown`` also a table."""
    print(f"# {header}")
    name_width = max(len(name) for name, _ in rows)
    value_width = max(len(value) for _, value in rows)
    for name, value in rows:
        print(f"{name:<{name_width}}  {value:>{value_width}}")
    if markdown:
        print("\n| benchmark | result |\n|---|---:|")
        for name, value in rows:
            print(f"| {name.strip()} | {value} |")
