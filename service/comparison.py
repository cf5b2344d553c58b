"""The comparison table of ``samplersearch compare``: accuracy, wall-clock, and wall-clock to
reach the uniform run's final accuracy (the NWS paper's measure)."""

from __future__ import annotations

import csv
import statistics
from pathlib import Path
from typing import Any


def _mean_std(values: list[float], digits: int = 4) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def seconds_to_reach(metrics: list[dict[str, Any]], target: float) -> float | None:
    """Cumulative epoch seconds until validation accuracy first reaches ``target``, or None."""
    elapsed = 0.0
    for epoch in metrics:
        elapsed += epoch.get("epoch_seconds", 0.0)
        if epoch.get("val_accuracy", -1.0) >= target:
            return elapsed
    return None


def _per_epoch(trials: list[dict[str, Any]]) -> str:
    if not trials:
        return "-"
    epochs = max(len(trials[0]["metrics"]), 1)
    return f"{statistics.mean(t['backward_samples'] for t in trials) / epochs:,.0f}"


def comparison_rows(results: dict[str, list[dict[str, Any]]], reference: str = "uniform") -> list[dict[str, str]]:
    """One row per run. ``results[run]`` holds per-seed summaries with ``metrics`` (per epoch).

    The target of "time to reach" is the mean final validation accuracy of ``reference`` (or of
    the first run when there is no uniform run).
    """
    base = reference if reference in results else next(iter(results))
    target = statistics.mean(t["val_accuracy"] for t in results[base] if t["val_accuracy"] is not None)
    base_seconds = statistics.mean(t["seconds"] for t in results[base])
    rows = []
    for run, trials in results.items():
        ok = [t for t in trials if t["status"] == "succeeded"]
        reach = [s for s in (seconds_to_reach(t["metrics"], target) for t in ok) if s is not None]
        seconds = [t["seconds"] for t in ok]
        rows.append({
            "run": run,
            "seeds": f"{len(ok)}/{len(trials)}",
            "val acc": _mean_std([t["val_accuracy"] for t in ok]),
            "test acc": _mean_std([t["test_accuracy"] for t in ok if t["test_accuracy"] is not None]),
            "wall-clock s": _mean_std(seconds, 2),
            f"time / {base}": f"{statistics.mean(seconds) / base_seconds:.2f}x" if seconds else "-",
            f"s to {base} final val ({target:.3f})": f"{_mean_std(reach, 2)} ({len(reach)}/{len(ok)} reached)",
            "backward samples / epoch": _per_epoch(ok),
        })
    return rows


def write_comparison(rows: list[dict[str, str]], directory: Path, stem: str, title: str) -> tuple[Path, Path]:
    """Write ``rows`` as ``stem.csv`` and ``stem.md`` under ``directory``; returns both paths."""
    directory.mkdir(parents=True, exist_ok=True)
    csv_path, md_path = directory / f"{stem}.csv", directory / f"{stem}.md"
    with open(csv_path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    header = list(rows[0])
    lines = [f"# Strategy comparison: {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row[h] for h in header) + " |" for row in rows]
    md_path.write_text("\n".join(lines) + "\n")
    return csv_path, md_path
