"""Reading the one mermaid state diagram of a docs page, edge by edge."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parents[2] / "docs"
EDGE = re.compile(r"^\s*(\[\*\]|\w+)\s*-->\s*(\[\*\]|\w+)\s*(?::\s*(\w+))?\s*$")


def table_diagram_problems(table: list[Any], drawn: list[Any]) -> list[str]:
    """How a transition table and the transitions a diagram draws differ (empty when they match)."""
    problems = [f"in the table but not drawn: {t}" for t in sorted(set(table) - set(drawn), key=str)]
    problems += [f"drawn but not in the table: {d}" for d in sorted(set(drawn) - set(table), key=str)]
    problems += [f"drawn twice: {d}" for d in sorted({d for d in drawn if drawn.count(d) > 1}, key=str)]
    return problems


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
