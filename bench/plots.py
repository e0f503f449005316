"""PNG plots of one benchmark run (python -m bench.flows --plot DIR), drawn with matplotlib."""

from __future__ import annotations

from pathlib import Path
from typing import Any

COLOURS = {"payfriend": "tab:blue", "reference": "tab:orange"}


def _pyplot() -> Any:
    """matplotlib's pyplot on the file-only Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def ecdf(values: list[float]) -> tuple[list[float], list[float]]:
    """The empirical distribution: sorted values and the fraction of values at or below each."""
    ordered = sorted(values)
    n = len(ordered)
    return ordered, [(i + 1) / n for i in range(n)]


def draw_latencies(directory: Path, flows: dict[str, dict[str, list[float]]]) -> list[Path]:
    """Flow duration and notification latency, Payfriend vs reference: histogram and distribution each."""
    plt = _pyplot()
    written = []
    for figure in ("flow_duration", "notification_latency"):
        fig, (hist, dist) = plt.subplots(1, 2, figsize=(12, 4.5))
        for bot, samples in flows.items():
            ms = [v * 1000 for v in samples.get(figure, [])]
            if not ms:
                continue
            hist.hist(ms, bins=60, density=True, alpha=0.55, color=COLOURS.get(bot), label=f"{bot} (n={len(ms)})")
            x, y = ecdf(ms)
            dist.plot(x, y, color=COLOURS.get(bot), label=bot)
        title = figure.replace("_", " ")
        hist.set(title=f"{title}: histogram", xlabel="ms", ylabel="density (each bot's area is 1)")
        dist.set(title=f"{title}: cumulative", xlabel="ms (log)", ylabel="fraction of flows", xscale="log")
        dist.grid(True, which="both", alpha=0.3)
        for axes in (hist, dist):
            axes.legend()
        fig.tight_layout()
        path = directory / f"{figure}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written


def draw_lateness(directory: Path, name: str, over_time: list[tuple[float, float]]) -> Path:
    """Fallback SMS lateness against when each fallback was due (seconds after the first deadline)."""
    plt = _pyplot()
    fig, axes = plt.subplots(figsize=(10, 4.5))
    if over_time:
        due, late = zip(*over_time)
        axes.scatter(due, [v * 1000 for v in late], s=3, alpha=0.5)
    axes.set(title=f"{name}: SMS lateness by due time", xlabel="due, seconds after the first deadline",
             ylabel="lateness (ms)")
    axes.grid(True, alpha=0.3)
    fig.tight_layout()
    path = directory / f"{name}_lateness.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def draw(directory: Path, samples: dict[str, Any]) -> list[Path]:
    """Every plot the samples of one run allow; returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    if "flows" in samples:
        written += draw_latencies(directory, samples["flows"])
    for name, part in samples.items():
        if name.startswith("fallback_"):
            written.append(draw_lateness(directory, name, part.get("lateness_over_time", [])))
    return written
