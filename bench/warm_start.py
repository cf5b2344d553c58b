"""Does warm-starting a search from an earlier job on the same task buy a better sampler for
the same budget?

One source job (``--source-seed``, ``--source-trials``), then for each seed two jobs of
``--trials`` trials on the same task: cold, and warm-started from the source
(``--warm-start``). Every job runs the verify and report stages (``--report-seeds`` from-scratch
runs each of the recommendation and uniform). Reported: what each recommended, its
from-scratch gain over uniform, and the search + verify wall-clock.

    python bench/warm_start.py --task mnist1d --label-noise 0.4 --seeds 1 2 3 --trials 20
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from cli_jobs import run_job


def run(workdir: Path, task: str, noise: str, seed: int, trials: int, report_seeds: int,
        warm_start: int | None = None) -> dict:
    """One ``samplersearch run``; its JSON summary."""
    arguments = ["--task", task, "--label-noise", noise, "--trials", str(trials), "--seed", str(seed),
                 "--report-seeds", str(report_seeds)]
    return run_job(workdir, arguments + ([] if warm_start is None else ["--warm-start", str(warm_start)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="mnist1d")
    parser.add_argument("--label-noise", default="0.4")
    parser.add_argument("--source-seed", type=int, default=0)
    parser.add_argument("--source-trials", type=int, default=40)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--report-seeds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "warm_start.md")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="samplersearch-warm-"))
    started = time.perf_counter()
    source = run(workdir, args.task, args.label_noise, args.source_seed, args.source_trials, 1)
    rows = []
    for seed in args.seeds:
        for label, warm in (("cold", None), ("warm", source["job_id"])):
            summary = run(workdir, args.task, args.label_noise, seed, args.trials, args.report_seeds, warm)
            rows.append((seed, label, summary))
            print(seed, label, summary["recommended"], summary["report"]["gain"], flush=True)
    lines = [f"# Warm start from an earlier job: {args.task}, noise {args.label_noise}", "",
             f"`python bench/warm_start.py --task {args.task} --label-noise {args.label_noise} --source-seed "
             f"{args.source_seed} --source-trials {args.source_trials} --seeds {' '.join(map(str, args.seeds))} "
             f"--trials {args.trials} --report-seeds {args.report_seeds}` ({time.perf_counter() - started:.0f} s). "
             f"The source job (seed {args.source_seed}, {args.source_trials} trials) took {source['seconds']:.0f} s.", "",
             "| seed | start | recommended | gain over uniform from scratch (points) | search + verify (s) |",
             "|---|---|---|---|---|"]
    for seed, label, summary in rows:
        chosen = "uniform" if summary["recommended"] == "uniform" else f"trial {summary['recommended_trial']}"
        lines.append(f"| {seed} | {label} | {chosen} | {100 * summary['report']['gain']:+.2f} | "
                     f"{summary['seconds'] - summary['report']['seconds']:.0f} |")
    for label in ("cold", "warm"):
        gains = [100 * s["report"]["gain"] for _, kind, s in rows if kind == label]
        lines.append(f"\n{label}: mean gain {statistics.fmean(gains):+.2f} points over seeds {args.seeds}.")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
