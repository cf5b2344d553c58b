"""Controller cost per suggestion: GP-UCB vs Optuna TPE vs random, against a trial's duration.

Feeds each searcher the same synthetic 10-d observations (a smooth function of the knots) and
times ``suggest`` with ``--pending`` trials still running, at several history sizes. The trial
duration it compares with is measured in the same run: one real mnist1d fine-tune (E_f epochs,
1 CPU thread), exactly what a Tune worker does.

    python bench/suggestion_cost.py --observations 8 16 32 64 --pending 1 --repeats 5
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from sampler_space import SamplerSpace
from sampler_space.swift import parameter_names
from service.searchers import make_searcher


def synthetic_value(config: dict[str, float]) -> float:
    return -sum((config[name] - 0.3) ** 2 for name in parameter_names())


def time_suggestions(name: str, observations: int, pending: int, repeats: int) -> list[float]:
    search_alg, _ = make_searcher(name, SamplerSpace(), n_initial=8, beta=2.0, seed=0, parallel=1000,
                                  start_uniform=False)
    from ray.tune.search import ConcurrencyLimiter

    searcher = search_alg.searcher if isinstance(search_alg, ConcurrencyLimiter) else search_alg
    searcher.set_search_properties("objective", "max", {})
    for k in range(observations):
        config = searcher.suggest(f"o{k}")
        searcher.on_trial_complete(f"o{k}", {"objective": synthetic_value(config)})
    for k in range(pending):
        searcher.suggest(f"p{k}")
    times = []
    for r in range(repeats):
        started = time.perf_counter()
        searcher.suggest(f"t{r}")
        times.append(time.perf_counter() - started)
        searcher.on_trial_complete(f"t{r}", None, error=True)
    return times


def trial_seconds() -> float:
    """One real mnist1d candidate fine-tune (task default E_f) on one CPU thread."""
    from workers.reference import build_model, shared_weights
    from workers.tasks import TaskSpec, get_task, load_task_data
    from workers.training import train

    spec = TaskSpec("mnist1d", label_noise=0.4)
    data = load_task_data(spec, 0)
    recipe = get_task("mnist1d").recipe
    state, _ = shared_weights(spec, data, 0, torch.device("cpu"), Path(".samplersearch/cache"))
    model = build_model(spec, data, 0, torch.device("cpu"))
    model.load_state_dict(state)
    train(model, data.x_train, data.y_train, data.x_val, data.y_val, epochs=1, lr=recipe.fine_tune_lr,
          recipe=recipe, seed=0)  # warm-up: the first call pays one-off allocation and dispatch costs
    model.load_state_dict(state)
    started = time.perf_counter()
    train(model, data.x_train, data.y_train, data.x_val, data.y_val, epochs=recipe.fine_tune_epochs,
          lr=recipe.fine_tune_lr, recipe=recipe, seed=0, weights=torch.rand(len(data.y_train)))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--observations", type=int, nargs="+", default=[8, 16, 32, 64])
    parser.add_argument("--pending", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "suggestion_cost.md")
    args = parser.parse_args()
    torch.set_num_threads(1)
    trial = trial_seconds()
    lines = [
        "# Controller cost per suggestion vs one trial",
        "",
        f"Command: `python bench/suggestion_cost.py --observations {' '.join(map(str, args.observations))} "
        f"--pending {args.pending} --repeats {args.repeats}` (torch threads pinned to 1)",
        "",
        f"One mnist1d candidate fine-tune measured in this run: {trial:.2f} s (1 CPU thread).",
        "",
        "| searcher | observations | median suggest (s) | p90 (s) | median / trial |",
        "|---|---|---|---|---|",
    ]
    for name in ("gp-ucb", "optuna", "random"):
        for count in args.observations:
            times = sorted(time_suggestions(name, count, args.pending, args.repeats))
            median = statistics.median(times)
            p90 = times[min(len(times) - 1, int(0.9 * len(times)))]
            lines.append(f"| {name} | {count} | {median:.4f} | {p90:.4f} | {median / trial:.3f} |")
            print(lines[-1], flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
