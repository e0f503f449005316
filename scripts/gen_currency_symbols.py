#!/usr/bin/env python3
"""Regenerate bot/currency_symbols.py from the CLDR data of the installed Babel."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "bot" / "currency_symbols.py"


def main() -> int:
    """Write the symbol module; with --check, only report whether it is up to date."""
    sys.path.insert(0, str(ROOT))
    from bot.currencies import render_symbol_module, scan_symbol_table

    text = render_symbol_module(scan_symbol_table())
    if "--check" in sys.argv[1:]:
        fresh = TARGET.exists() and TARGET.read_text(encoding="utf-8") == text
        print(f"{TARGET.relative_to(ROOT)} is {'up to date' if fresh else 'stale'}")
        return 0 if fresh else 1
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
