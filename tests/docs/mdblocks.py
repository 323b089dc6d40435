"""Fenced code blocks of the user docs (README.md and docs/*.md), for the tests that run them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^```([\w+-]*)[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)
# Blocks that are pictures or sample output, not code to run.
NOT_CODE = {"", "text", "console-output", "output"}


@dataclass(frozen=True)
class Block:
    path: Path
    line: int
    lang: str
    text: str

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def doc_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def blocks(path: Path) -> list[Block]:
    text = path.read_text()
    return [
        Block(path, text.count("\n", 0, m.start()) + 1, m.group(1).lower(), m.group(2))
        for m in FENCE.finditer(text)
    ]


def code_blocks() -> list[Block]:
    return [b for p in doc_files() for b in blocks(p) if b.lang not in NOT_CODE]


def commands(block: Block) -> list[str]:
    """The shell commands of a bash block: one a line, comments and blank lines dropped."""
    out = []
    for raw in block.text.splitlines():
        line = re.sub(r"\s+#.*$", "", raw).strip()
        if line and not line.startswith("#"):
            out.append(line)
    return out
