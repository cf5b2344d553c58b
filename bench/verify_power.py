"""Power and false-alarm rate of the verify stage's test, by simulation, for verify budgets.

Each simulated verify stage has ``candidates`` candidates; the best has true objective gain
``gain`` over uniform and the others half of it; every paired difference (candidate − uniform
on one training seed) is that gain plus Gaussian noise of standard deviation ``sigma`` (the
measured seed-to-seed spread of paired fine-tune objectives is 0.003 to 0.009 on mnist1d and
digits, `bench/results/proxy_fidelity*.md`). The decision is ``service.recommendation.recommend``
itself. ``gain = 0`` gives the false-alarm rate (a candidate recommended though none is better).

    python bench/verify_power.py
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from service.recommendation import DEFAULT_ALPHA, recommend


def recommend_rate(candidates: int, seeds: int, gain: float, sigma: float, runs: int, rng: np.random.Generator) -> float:
    """Fraction of ``runs`` simulated verify stages that recommend a candidate."""
    hits = 0
    gains = [gain] + [gain / 2] * (candidates - 1)
    for _ in range(runs):
        uniform = rng.normal(0.0, sigma, seeds)  # shared per-seed component cancels in the pairs
        measured = [(index, 0.0, list(uniform + g + rng.normal(0.0, sigma, seeds))) for index, g in enumerate(gains)]
        hits += recommend(measured, list(uniform), list(range(seeds)), DEFAULT_ALPHA)["choice"] == "trial"
    return hits / runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budgets", nargs="+", default=["3x3", "2x4", "1x6", "3x5", "2x6"],
                        help="CANDIDATESxSEEDS; (candidates + 1) x seeds fine-tunes")
    parser.add_argument("--sigma", type=float, default=0.004, help="noise of one fine-tune objective")
    parser.add_argument("--gains", type=float, nargs="+", default=[0.0, 0.002, 0.004, 0.008])
    parser.add_argument("--runs", type=int, default=4000)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "verify_power.md")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    header = " | ".join(f"gain {g:g}" for g in args.gains)
    lines = ["# Verify stage: how often it recommends a candidate, by budget", "",
             f"`python bench/verify_power.py --sigma {args.sigma} --runs {args.runs}`: simulated paired measurements, "
             f"per-objective noise sigma = {args.sigma}, the best candidate gains `gain` over uniform and the others "
             f"half of it, family-wise level {DEFAULT_ALPHA}. Column gain 0 is the false-alarm rate.", "",
             f"| budget (candidates x seeds) | fine-tunes | {header} |", "|---|---|" + "---|" * len(args.gains)]
    for budget in args.budgets:
        candidates, seeds = map(int, budget.split("x"))
        rates = [recommend_rate(candidates, seeds, g, args.sigma, args.runs, rng) for g in args.gains]
        lines.append(f"| {budget} | {(candidates + 1) * seeds} | " + " | ".join(f"{r:.3f}" for r in rates) + " |")
        print(lines[-1], flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
