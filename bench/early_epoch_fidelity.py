"""Would early stopping (Ray Tune's ASHA) keep the right candidates? For every search job in a
store, the rank correlation between each trial's validation accuracy after epoch e and its final
objective, and how many of the final top 5 would survive a cut to the top third at epoch e
(ASHA's reduction factor 3).

    python bench/early_epoch_fidelity.py --db sqlite:///path/to/jobs.db [--db ...]
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from scipy.stats import spearmanr

from service.models import TrialStatus
from service.spec import JobSpec
from service.store import Store


def job_rows(store: Store, job_id: int) -> list[list[float]]:
    """Per succeeded trial: validation accuracy after each epoch."""
    return [[m["val_accuracy"] for m in trial.metrics] for trial in store.trials(job_id)
            if trial.status == TrialStatus.SUCCEEDED and trial.metrics]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", action="append", required=True)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "early_epoch_fidelity.md")
    args = parser.parse_args()
    table: dict[tuple[str, int], list[tuple[float, int]]] = {}
    epochs_seen = 0
    for url in args.db:
        store = Store(url)
        for job in store.list_jobs(limit=500):
            if job.kind != "search":
                continue
            spec = JobSpec.model_validate(job.spec)
            rows = [r for r in job_rows(store, job.id) if len(r) == len(max(job_rows(store, job.id), key=len))]
            if len(rows) < 10:
                continue
            final = [r[-1] for r in rows]
            top_final = set(sorted(range(len(rows)), key=lambda i: -final[i])[:5])
            epochs_seen = max(epochs_seen, len(rows[0]))
            for epoch in range(1, len(rows[0])):
                early = [r[epoch - 1] for r in rows]
                kept = set(sorted(range(len(rows)), key=lambda i: -early[i])[: len(rows) // 3])
                key = (f"{spec.task.name} {spec.task.noise_kind} {spec.task.label_noise}", epoch)
                table.setdefault(key, []).append((spearmanr(early, final).statistic, len(top_final & kept)))
    lines = ["# Early-epoch fidelity: does a trial's early validation accuracy rank it as its final objective does?",
             "", "`python bench/early_epoch_fidelity.py " + " ".join(f"--db {u}" for u in args.db) + "`", "",
             "| setting | epoch | jobs | Spearman with the final objective (mean) | final top 5 kept by a top-third cut |",
             "|---|---|---|---|---|"]
    for (setting, epoch), values in sorted(table.items()):
        lines.append(f"| {setting} | {epoch} | {len(values)} | {statistics.fmean(v for v, _ in values):.2f} | "
                     f"{statistics.fmean(k for _, k in values):.1f} / 5 |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
