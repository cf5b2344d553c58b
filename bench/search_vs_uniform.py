"""Does the searched sampler beat uniform sampling, and how do the searchers compare?

For each seed: one `samplersearch run` per searcher (same task, budget and seed), then
`samplersearch evaluate` from scratch with each found sampler and with uniform sampling. Writes a
Markdown table (mean ± std over seeds, and per seed) to bench/results/.

    python bench/search_vs_uniform.py --task mnist1d --label-noise 0.4 --trials 40 --seeds 0 1 2 \
        --searchers gp-ucb random optuna
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLI = [sys.executable, "-m", "service"]


def call(arguments: list[str], cwd: Path) -> dict:
    completed = subprocess.run(CLI + arguments, cwd=cwd, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise SystemExit(f"failed: {shlex.join(arguments)}\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def mean_std(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.4f}"
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="mnist1d")
    parser.add_argument("--label-noise", type=float, default=0.4)
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--searchers", nargs="+", default=["gp-ucb"])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="samplersearch-bench-"))
    task = ["--task", args.task, "--label-noise", str(args.label_noise)]
    rows: list[dict] = []
    for seed in args.seeds:
        uniform = call(["evaluate", *task, "--sampler", "uniform", "--seed", str(seed)], workdir)
        rows.append({"seed": seed, "sampler": "uniform", "search_s": 0.0, "best_val_in_search": None,
                     "val": uniform["val_accuracy"], "test": uniform["test_accuracy"]})
        for searcher in args.searchers:
            out = workdir / f"{searcher}-{seed}.json"
            started = time.perf_counter()
            summary = call(["run", *task, "--trials", str(args.trials), "--parallel", str(args.parallel),
                            "--searcher", searcher, "--seed", str(seed), "--out", str(out)], workdir)
            search_seconds = time.perf_counter() - started
            found = call(["evaluate", *task, "--sampler", str(out), "--seed", str(seed)], workdir)
            rows.append({"seed": seed, "sampler": searcher, "search_s": search_seconds,
                         "best_val_in_search": summary["best_val_accuracy"],
                         "val": found["val_accuracy"], "test": found["test_accuracy"]})
            print(json.dumps(rows[-1]), flush=True)

    names = ["uniform", *args.searchers]
    uniform_test = {r["seed"]: r["test"] for r in rows if r["sampler"] == "uniform"}
    lines = [
        f"# Searched sampler vs uniform: {args.task}, label noise {args.label_noise}, {args.trials} trials",
        "",
        f"Command: `python bench/search_vs_uniform.py --task {args.task} --label-noise {args.label_noise} "
        f"--trials {args.trials} --parallel {args.parallel} --seeds {' '.join(map(str, args.seeds))} "
        f"--searchers {' '.join(args.searchers)}`",
        "",
        "Test accuracy after training from scratch (`samplersearch evaluate`, task default epochs) with the "
        "sampler each searcher found; uniform is the same training with uniform sampling.",
        "",
        "| sampler | test acc (mean ± std) | test gain over uniform | val acc | best val in search "
        "| search wall-clock (mean) |",
        "|---|---|---|---|---|---|",
    ]
    for name in names:
        mine = [r for r in rows if r["sampler"] == name]
        gains = [r["test"] - uniform_test[r["seed"]] for r in mine]
        best = [r["best_val_in_search"] for r in mine if r["best_val_in_search"] is not None]
        lines.append(
            f"| {name} | {mean_std([r['test'] for r in mine])} | {mean_std(gains)} "
            f"| {mean_std([r['val'] for r in mine])} "
            f"| {mean_std(best) if best else '-'} | {statistics.mean(r['search_s'] for r in mine):.0f} s |"
        )
    lines += ["", "Per seed:", "", "| seed | sampler | test | val | best val in search | search s |",
              "|---|---|---|---|---|---|"]
    for r in rows:
        best = "-" if r["best_val_in_search"] is None else f"{r['best_val_in_search']:.4f}"
        lines.append(f"| {r['seed']} | {r['sampler']} | {r['test']:.4f} | {r['val']:.4f} | {best} | {r['search_s']:.0f} |")
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / f"search_vs_uniform-{args.task}-noise{args.label_noise}.md"
    target.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
