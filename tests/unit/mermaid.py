"""Reading the one mermaid state diagram of a docs page, edge by edge."""

from __future__ import annotations

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"
EDGE = re.compile(r"^\s*(\[\*\]|\w+)\s*-->\s*(\[\*\]|\w+)\s*(?::\s*(\w+))?\s*$")


def diagram_edges(page: str) -> list[tuple[str, str, str | None]]:
    """(source, target, label) of every edge in the page's one mermaid block; [*] marks start and end."""
    blocks = re.findall(r"```mermaid\n(.*?)```", (DOCS / page).read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) == 1, "expected one mermaid block"
    edges = []
    for line in blocks[0].splitlines():
        match = EDGE.match(line)
        if match:
            edges.append((match[1], match[2], match[3]))
        else:
            assert "-->" not in line, f"unreadable edge: {line!r}"
    return edges
