"""Would a searched sampler gain more if its features were refreshed every epoch?

The Swift Sampler computes each row's features once, from the reference model, so a clean row the
reference model got wrong stays down-weighted for the whole run. Refreshing the features before
every epoch from the model being trained might free those rows. This bench applies a search's
own candidates (the top trials its verify stage re-measured) from scratch in five ways, against
uniform on the same training seeds:

- ``static``: the product's way (the reference model's features, fixed);
- ``absolute``: features of the current model before every epoch, through the job's fitted
  transforms (the reference model's scale);
- ``refit``: the same, with the transforms refitted on the current features every epoch
  (each epoch's own gradient-weighted quantiles);
- ``absolute@W``, ``refit@W``: static for the first ``W`` epochs (``--warmup``), then refreshed.

The refreshing strategy lives here, not in the product: it was measured and not kept
(``bench/results/refresh_vs_static-*.md``).

    python bench/refresh_vs_static.py --task mnist1d --label-noise 0.4 --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from cli_jobs import run_job
from torch import Tensor, nn

from sampler_space.drawing import IndexDrawer
from sampler_space.features import features_from_logits, gradient_norm_proxy, predict_logits
from sampler_space.sampler_json import sampler_from_document
from sampler_space.strategies.base import Strategy
from sampler_space.swift import SwiftSampler
from sampler_space.transforms import fit_transform
from service.config import Settings
from service.jobs.export import sampler_document
from service.store import Store
from workers.reference import build_model, reference_outputs
from workers.tasks import TaskData, TaskSpec, get_task, load_task_data
from workers.training import accuracy, train


class RefreshedFeatures(Strategy):
    """Draws N rows per epoch from ``sampler``'s weights of the features ``model`` gives before the
    epoch (``refit``: transforms refitted on them), after ``warmup`` epochs of ``static_weights``."""

    def __init__(self, model: nn.Module, data: TaskData, sampler: SwiftSampler, static_weights: Tensor,
                 refit: bool, warmup: int) -> None:
        super().__init__()
        self.model, self.data, self.sampler = model, data, sampler
        self.static_weights, self.refit, self.warmup = static_weights, refit, warmup
        self.drawer = IndexDrawer(static_weights)

    def begin_epoch(self, epoch: int) -> None:
        if epoch <= self.warmup:
            self.drawer = IndexDrawer(self.static_weights)
            return
        logits = predict_logits(self.model, self.data.x_train)
        raw = features_from_logits(logits, self.data.y_train, self.sampler.features)
        sampler = self.sampler
        if self.refit:
            proxy = gradient_norm_proxy(logits, self.data.y_train)
            transforms = tuple(fit_transform("cgf", raw[:, n], proxy) for n in range(raw.shape[1]))
            sampler = SwiftSampler(sampler.features, transforms, sampler.knots, sampler.epsilon)
        self.drawer = IndexDrawer(sampler.weights(raw))

    def epoch_order(self, generator: torch.Generator) -> Tensor:
        return self.drawer.draw(len(self.drawer), generator)


def test_accuracy(spec: TaskSpec, data: TaskData, mode: str, sampler: SwiftSampler | None,
                  static_weights: Tensor | None, seed: int) -> float:
    """Clean test accuracy after the task's from-scratch recipe under ``mode`` (see the module)."""
    recipe = get_task(spec.name).recipe
    model = build_model(spec, data, seed, torch.device("cpu"))
    sampling: dict = {}
    if mode == "static":
        sampling["weights"] = static_weights
    elif mode != "uniform":
        kind, _, warmup = mode.partition("@")
        sampling["strategy"] = RefreshedFeatures(model, data, sampler, static_weights, kind == "refit",
                                                 int(warmup or 0))
    train(model, data.x_train, data.y_train, data.x_val, data.y_val, epochs=recipe.scratch_epochs, lr=recipe.lr,
          recipe=recipe, seed=seed, **sampling)
    return accuracy(model, data.x_test, data.y_test)


def search(workdir: Path, args: argparse.Namespace, seed: int) -> dict:
    """One ``samplersearch run --no-report``; its JSON summary."""
    return run_job(workdir, ["--task", args.task, "--label-noise", args.label_noise, "--noise-kind", args.noise_kind,
                             "--trials", str(args.trials), "--seed", str(seed), "--no-report"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="mnist1d")
    parser.add_argument("--label-noise", default="0.4")
    parser.add_argument("--noise-kind", default="symmetric", choices=["symmetric", "asymmetric"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="search (data) seeds")
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--train-seeds", type=int, nargs="+", default=[11, 12, 13])
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    torch.set_num_threads(1)
    workdir = Path(tempfile.mkdtemp(prefix="samplersearch-refresh-"))
    modes = ["static", "absolute", "refit", f"absolute@{args.warmup}", f"refit@{args.warmup}"]
    spec = TaskSpec(args.task, float(args.label_noise), args.noise_kind)
    store = Store(f"sqlite:///{workdir / 'jobs.db'}")
    paths = Settings().task_paths()  # the searches' own: the same data and cached shared weights
    started = time.perf_counter()
    rows: list[tuple[int, int, dict[str, float]]] = []
    for seed in args.seeds:
        job = store.get_job(search(workdir, args, seed)["job_id"])
        data = load_task_data(spec, seed, paths)
        uniform = statistics.fmean(test_accuracy(spec, data, "uniform", None, None, s) for s in args.train_seeds)
        for trial in sorted({c["trial"] for c in job.recommendation["candidates"]}):
            params = store.trial(job.id, trial).params
            sampler = sampler_from_document(sampler_document(job.sampler_context, params, {}))
            features = reference_outputs(spec, data, seed, paths.cache_dir, sampler.features).features
            weights = sampler.weights(features.raw)
            gains = {mode: 100 * (statistics.fmean(test_accuracy(spec, data, mode, sampler, weights, s)
                                                   for s in args.train_seeds) - uniform) for mode in modes}
            rows.append((seed, trial, gains))
            print(seed, trial, {m: round(g, 2) for m, g in gains.items()}, flush=True)
    means = {mode: statistics.fmean(g[mode] for _, _, g in rows) for mode in modes}
    better = {mode: sum(g[mode] > g["static"] for _, _, g in rows) for mode in modes}
    lines = [f"# Refreshed features against static ones: {args.task}, {args.noise_kind} noise {args.label_noise}", "",
             f"`python bench/refresh_vs_static.py --task {args.task} --label-noise {args.label_noise} --noise-kind "
             f"{args.noise_kind} --seeds {' '.join(map(str, args.seeds))} --trials {args.trials} --warmup "
             f"{args.warmup}` ({time.perf_counter() - started:.0f} s). Each row is one of the two trials a search's "
             f"verify stage re-measured; gain = clean test accuracy from scratch minus uniform's, points, mean over "
             f"training seeds {args.train_seeds}.", "",
             "| search seed | trial | " + " | ".join(modes) + " |", "|---|---|" + "---|" * len(modes)]
    lines += [f"| {seed} | {trial} | " + " | ".join(f"{g[m]:+.2f}" for m in modes) + " |" for seed, trial, g in rows]
    lines += ["| **mean** | | " + " | ".join(f"**{means[m]:+.2f}**" for m in modes) + " |",
              "| above static | | " + " | ".join(f"{better[m]} / {len(rows)}" for m in modes) + " |"]
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"refresh_vs_static-{args.task}-{args.noise_kind}{args.label_noise}.md"
    path.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
