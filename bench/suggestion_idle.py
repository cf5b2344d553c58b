"""How long do trial workers wait for GP-UCB suggestions, with and without lookahead?

Runs the same search job three times in this process (lookahead off, on with one proposal
prepared, on with ``parallel`` prepared: the service's default), with the job's own
GP-UCB searcher (as ``make_searcher`` builds it) so that its ``wait_seconds`` can be read, and
reports: the share of worker time spent waiting for a suggestion (sum of ``suggest`` times over
``parallel`` x the Tune run's wall-clock), the search's wall-clock, and the best objective.

    python bench/suggestion_idle.py --task mnist1d --label-noise 0.4 --trials 40 --parallel 2
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from service.cluster import connect_driver
from service.config import Settings
from service.jobs import run_job
from service.jobs.search import prepare_search
from service.searchers import make_searcher
from service.spec import JobSpec
from service.store import Store


def measure(spec: JobSpec, settings: Settings, lookahead: bool, depth: int | None = None) -> dict:
    """One search job; ``depth`` overrides the lookahead depth (default: ``parallel``)."""
    store = Store(settings.database_url)
    job = store.create_job(spec.model_dump())
    space = prepare_search(spec, settings).space  # shared weights cached by the first call
    search = spec.search
    limiter, _ = make_searcher("gp-ucb", space, n_initial=search.initial, beta=search.ucb_beta, seed=search.seed,
                               parallel=search.parallel, lookahead=lookahead)
    if depth is not None:
        limiter.searcher.lookahead_depth = depth
    started = time.perf_counter()
    job = run_job(store, job.id, settings, search_alg=limiter)
    wall = time.perf_counter() - started
    searcher = limiter.searcher
    trials = store.trials(job.id)
    tune_wall = (max(t.finished_at for t in trials) - min(t.started_at for t in trials)).total_seconds()
    waited = sum(searcher.wait_seconds)
    depth_used = limiter.searcher.lookahead_depth if lookahead else 0
    return {"lookahead": lookahead, "depth": depth_used, "status": job.status, "wall": wall, "tune_wall": tune_wall,
            "waited": waited,
            "idle": waited / (search.parallel * tune_wall), "suggestions": len(searcher.wait_seconds),
            "prepared": searcher.prepared_used, "best": max(t.metric for t in trials if t.metric is not None)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="mnist1d")
    parser.add_argument("--label-noise", type=float, default=0.4)
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "suggestion_idle.md")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="samplersearch-idle-"))
    settings = Settings(database_url=f"sqlite:///{workdir / 'jobs.db'}", results_dir=workdir / "ray")
    connect_driver(settings)
    spec = JobSpec.model_validate({"task": {"name": args.task, "label_noise": args.label_noise},
                                   "search": {"trials": args.trials, "parallel": args.parallel, "seed": args.seed},
                                   "verify": {"candidates": 0}})
    rows = [measure(spec, settings, False), measure(spec, settings, True, depth=1), measure(spec, settings, True)]
    lines = [f"# Worker time spent waiting for GP-UCB suggestions: {args.task}, noise {args.label_noise}, "
             f"{args.trials} trials, {args.parallel} at once", "",
             f"`python bench/suggestion_idle.py --task {args.task} --label-noise {args.label_noise} "
             f"--trials {args.trials} --parallel {args.parallel} --seed {args.seed}`", "",
             "| lookahead (proposals kept prepared) | waiting for suggestions (share of worker time) | "
             "suggest calls (prepared) | Tune run wall-clock | best objective |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {'on (' + str(r['depth']) + ')' if r['lookahead'] else 'off'} | "
                     f"{100 * r['idle']:.2f}% ({r['waited']:.1f} s) | "
                     f"{r['suggestions']} ({r['prepared']}) | {r['tune_wall']:.1f} s | {r['best']:.4f} |")
    lines += ["", f"Wall-clock ratio on ({rows[2]['depth']}) / off: {rows[2]['tune_wall'] / rows[0]['tune_wall']:.2f}. "
              "Waiting = the sum of "
              "the searcher's `suggest` times (a free slot stays idle meanwhile) over parallel x the Tune run's "
              "wall-clock; Tune's own per-trial overhead is not counted."]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
