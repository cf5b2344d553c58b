"""Is the recommended sampler ever worse than uniform once trained from scratch?

For each (task, noise, seed): one `samplersearch run` (search, verify stage, report stage with
`--report-seeds K`), then a table of what was recommended, why, and the report's test accuracy of
the recommendation and of uniform (mean ± std over the K training seeds). A row is flagged when
the recommendation is below uniform by more than uniform's seed-to-seed standard deviation.

    python bench/recommendation_vs_uniform.py --settings mnist1d:0.4 digits:0.4 --seeds 0 1 2
    python bench/recommendation_vs_uniform.py --set search.fine_tune_lr=0.002 --tag ftlr0.002

``--set SECTION.FIELD=VALUE`` passes through to every run (a variant of the defaults); ``--tag``
names the variant's results file.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from cli_jobs import run_job


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--settings", nargs="+", default=["mnist1d:0.4"], help="task:noise[:asymmetric]")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--report-seeds", type=int, default=3)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.FIELD=VALUE")
    parser.add_argument("--tag", default="", help="variant name: results go to recommendation_vs_uniform-TAG.md")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    suffix = f"-{args.tag}" if args.tag else ""
    out = args.out or Path(__file__).parent / "results" / f"recommendation_vs_uniform{suffix}.md"
    workdir = Path(tempfile.mkdtemp(prefix="samplersearch-recommend-"))
    rows, started = [], time.perf_counter()
    for setting in args.settings:
        task, noise, *kind = setting.split(":")
        for seed in args.seeds:
            arguments = ["--task", task, "--label-noise", noise, "--noise-kind", (kind or ["symmetric"])[0],
                         "--trials", str(args.trials), "--seed", str(seed), "--report-seeds", str(args.report_seeds)]
            summary = run_job(workdir, arguments + [item for override in args.overrides for item in ("--set", override)])
            rows.append((setting, seed, summary))
            print(setting, seed, summary["recommended"], summary["report"]["gain"], flush=True)
    passed = "".join(f" --set {override}" for override in args.overrides) + (f" --tag {args.tag}" if args.tag else "")
    gains = [100 * summary["report"]["gain"] for _, _, summary in rows]
    lines = [f"# Recommendation against uniform, from scratch{': ' + args.tag if args.tag else ''}", "",
             f"`python bench/recommendation_vs_uniform.py --settings {' '.join(args.settings)} --seeds "
             f"{' '.join(map(str, args.seeds))} --trials {args.trials} --report-seeds {args.report_seeds}{passed}` "
             f"({time.perf_counter() - started:.0f} s)", "",
             f"Mean gain over all rows: {sum(gains) / len(gains):+.2f} points; search + verify wall-clock "
             f"{sum(s['seconds'] - s['report']['seconds'] for _, _, s in rows):.0f} s in all.", "",
             "| setting | seed | recommended | recommended test acc. | uniform test acc. | gain (points) | "
             "below uniform by > 1 std | search + verify (s) | report (s) |", "|---|---|---|---|---|---|---|---|---|"]
    for setting, seed, summary in rows:
        report = summary["report"]
        best, uniform = report["best"], report["uniform"]
        worse = report["gain"] < -uniform["test_accuracy_std"]
        chosen = "uniform" if summary["recommended"] == "uniform" else f"trial {summary['recommended_trial']}"
        lines.append(f"| {setting} | {seed} | {chosen} | "
                     f"{best['test_accuracy_mean']:.4f} ± {best['test_accuracy_std']:.4f} | "
                     f"{uniform['test_accuracy_mean']:.4f} ± {uniform['test_accuracy_std']:.4f} | "
                     f"{100 * report['gain']:+.2f} | {'**yes**' if worse else 'no'} | "
                     f"{summary['seconds'] - report['seconds']:.0f} | {report['seconds']:.0f} |")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
