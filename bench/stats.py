"""Percentiles, medians over runs, and the facts of the machine a benchmark ran on."""

from __future__ import annotations

import math
import os
import platform
import sqlite3
import statistics
import sys
from typing import Any


def percentile(values: list[float], p: float) -> float | None:
    """The p-th percentile (0-100) with linear interpolation; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary_ms(seconds: list[float]) -> dict[str, Any]:
    """Count, p50, p90, p99 and max of durations given in seconds, in milliseconds (1 decimal)."""
    def ms(value: float | None) -> float | None:
        return None if value is None else round(value * 1000, 1)
    return {"count": len(seconds), "p50_ms": ms(percentile(seconds, 50)), "p90_ms": ms(percentile(seconds, 90)),
            "p99_ms": ms(percentile(seconds, 99)), "max_ms": ms(max(seconds) if seconds else None)}


def median_of(runs: list[Any]) -> Any:
    """Merge runs of the same JSON shape: numbers become their median, the rest comes from the first run."""
    first = runs[0]
    if isinstance(first, bool) or first is None or isinstance(first, str):
        return first
    if isinstance(first, (int, float)):
        numbers = [r for r in runs if isinstance(r, (int, float)) and not isinstance(r, bool)]
        if len(numbers) != len(runs):
            return first
        value = statistics.median(numbers)
        return round(value, 3) if isinstance(value, float) else value
    if isinstance(first, dict):
        return {k: median_of([r.get(k) if isinstance(r, dict) else None for r in runs]) for k in first}
    return first


def machine_facts(database_url: str | None) -> dict[str, Any]:
    """Cores, CPU model, memory, Python and database versions."""
    model = None
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), None)
    except OSError:
        pass
    memory_mb = None
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            memory_mb = int(next(line for line in meminfo if line.startswith("MemTotal")).split()[1]) // 1024
    except (OSError, StopIteration):
        pass
    facts: dict[str, Any] = {
        "cores": os.cpu_count(), "cores_usable": len(os.sched_getaffinity(0)), "cpu": model,
        "memory_mb": memory_mb, "os": platform.platform(), "python": sys.version.split()[0],
    }
    if database_url is None or database_url.startswith("sqlite"):
        facts["database"] = f"SQLite {sqlite3.sqlite_version} (WAL, synchronous=NORMAL)"
    else:
        facts["database"] = _server_version(database_url)
    return facts


def _server_version(database_url: str) -> str:
    from sqlalchemy import text

    from models.engine import make_engine

    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            return str(connection.execute(text("select version()")).scalar()).split(" on ")[0]
    finally:
        engine.dispose()
