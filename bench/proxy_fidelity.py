"""How well does the search's proxy (fine-tuning the shared weights for E_f epochs, validation
accuracy) rank samplers the way training from scratch does?

For K candidate samplers (uniform, a hand-set keep-low-loss sampler, and Sobol points of the
space) it measures, on S training seeds each: the fine-tune objective the search uses, and the
from-scratch test accuracy (the task's scratch epochs, on the same noisy data). It reports
Spearman and Kendall rank correlations between the two means, and the objective's seed-to-seed
standard deviation beside the spread between candidates (if the first is not well below the
second, one observation per candidate cannot rank them). Runs on Ray (every CPU of this machine).

    python bench/proxy_fidelity.py --task digits --label-noise 0.4 --candidates 10 --seeds 3
    python bench/proxy_fidelity.py --task mnist1d --label-noise 0.4 --noise-kind asymmetric
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import ray
import torch
from scipy.stats import kendalltau, spearmanr
from torch.quasirandom import SobolEngine

from sampler_space.sampler_json import sampler_from_document
from service.cluster import connect_driver
from service.config import Settings
from service.jobs.export import sampler_document
from service.jobs.search import prepare_search
from service.spec import JobSpec
from workers.evaluation import evaluate_sampler
from workers.trainable import fine_tune_objective


def keep_low_loss(names: list[str]) -> dict[str, float]:
    """Weight falling with the loss's transformed value, flat in entropy: a hand-set denoiser."""
    point = {}
    for name in names:
        feature, knot = name.rsplit("_k", 1)
        point[name] = 1.0 - int(knot) / 4 if feature == "loss" else 0.5
    return point


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="digits")
    parser.add_argument("--label-noise", type=float, default=0.4)
    parser.add_argument("--noise-kind", default="symmetric", choices=["symmetric", "asymmetric"])
    parser.add_argument("--candidates", type=int, default=10, help="K, uniform and keep-low-loss included")
    parser.add_argument("--seeds", type=int, default=3, help="training seeds per candidate")
    parser.add_argument("--data-seed", type=int, default=0)
    parser.add_argument("--train-size", type=int, default=None, help="a random subset of the training split")
    parser.add_argument("--clean-validation", action="store_true", help="validation labels are the true ones")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="samplersearch-fidelity-"))
    settings = Settings(database_url=f"sqlite:///{workdir / 'unused.db'}", results_dir=workdir / "ray")
    connect_driver(settings)
    spec = JobSpec.model_validate({"task": {"name": args.task, "label_noise": args.label_noise,
                                            "noise_kind": args.noise_kind, "train_size": args.train_size,
                                            "clean_validation": args.clean_validation},
                                   "search": {"seed": args.data_seed}})
    started = time.perf_counter()
    prepared = prepare_search(spec, settings)
    names = prepared.space.names
    sobol = SobolEngine(len(names), scramble=True, seed=1).draw(max(0, args.candidates - 2), dtype=torch.float64)
    candidates = {"uniform": prepared.space.uniform_point(), "keep-low-loss": keep_low_loss(names)}
    candidates |= {f"sobol-{i}": dict(zip(names, row.tolist())) for i, row in enumerate(sobol)}

    payload = ray.put(prepared.payload)
    fine_tune = ray.remote(fine_tune_objective).options(num_cpus=1)
    scratch = ray.remote(evaluate_sampler).options(num_cpus=1)
    task_spec, paths = spec.task.to_task_spec(), settings.task_paths()
    context = prepared.context
    seeds = [args.data_seed + 1 + s for s in range(args.seeds)]
    refs = {}
    for label, point in candidates.items():
        sampler = None if label == "uniform" else sampler_from_document(sampler_document(context, point, {}))
        for seed in seeds:
            refs[(label, seed, "objective")] = fine_tune.remote(point, payload, seed)
            refs[(label, seed, "test")] = scratch.remote(task_spec, seed, sampler, paths, sampler_name=label,
                                                         data_seed=args.data_seed, use_gpu=False)
    values = dict(zip(refs, ray.get(list(refs.values()))))
    rows = []
    for label in candidates:
        objective = [values[(label, s, "objective")] for s in seeds]
        test = [values[(label, s, "test")].test_accuracy for s in seeds]
        scratch_val = [values[(label, s, "test")].val_accuracy for s in seeds]
        rows.append((label, objective, test, scratch_val))
    mean_objective = [statistics.fmean(o) for _, o, _, _ in rows]
    mean_test = [statistics.fmean(t) for _, _, t, _ in rows]
    mean_scratch_val = [statistics.fmean(v) for *_, v in rows]
    rho, tau = spearmanr(mean_objective, mean_test).statistic, kendalltau(mean_objective, mean_test).statistic
    order = sorted(range(len(rows)), key=lambda i: -mean_objective[i])[: max(3, len(rows) // 2)]
    rho_top = spearmanr([mean_objective[i] for i in order], [mean_test[i] for i in order]).statistic
    rho_val = spearmanr(mean_scratch_val, mean_test).statistic
    by_val = sorted(range(len(rows)), key=lambda i: -mean_scratch_val[i])[: max(3, len(rows) // 2)]
    rho_val_top = spearmanr([mean_scratch_val[i] for i in by_val], [mean_test[i] for i in by_val]).statistic
    within = statistics.fmean(statistics.stdev(o) for _, o, _, _ in rows)
    between = statistics.stdev(mean_objective)
    seconds = time.perf_counter() - started

    variant = (f", {args.train_size} training rows" if args.train_size else "") + (
        ", clean validation labels" if args.clean_validation else "")
    title = f"{args.task}, {args.noise_kind} noise {args.label_noise}{variant}"
    lines = [f"# Proxy fidelity: {title}", "",
             f"`python bench/proxy_fidelity.py --task {args.task} --label-noise {args.label_noise} "
             f"--noise-kind {args.noise_kind} --candidates {args.candidates} --seeds {args.seeds}"
             f"{f' --train-size {args.train_size}' if args.train_size else ''}"
             f"{' --clean-validation' if args.clean_validation else ''}` "
             f"({seconds:.0f} s on this machine's CPUs)", "",
             f"- Spearman rank correlation (fine-tune objective vs from-scratch test accuracy): **{rho:.2f}**",
             f"- Kendall tau: **{tau:.2f}**",
             f"- Spearman over the top half by objective (where a search chooses): **{rho_top:.2f}**",
             f"- the from-scratch runs' own validation accuracy (the same split and labels as the objective) "
             f"against their test accuracy: Spearman **{rho_val:.2f}**, over its top half **{rho_val_top:.2f}**",
             f"- objective's seed-to-seed std (mean over candidates): {within:.4f}; "
             f"std of the candidates' mean objective: {between:.4f} (ratio {within / between:.2f})",
             f"- seeds {seeds}, data seed {args.data_seed}", "",
             "| candidate | fine-tune objective (mean ± std) | from-scratch validation accuracy | "
             "from-scratch test accuracy (mean ± std) |", "|---|---|---|---|"]
    for label, objective, test, scratch_val in sorted(rows, key=lambda r: -statistics.fmean(r[2])):
        lines.append(f"| {label} | {statistics.fmean(objective):.4f} ± {statistics.stdev(objective):.4f} | "
                     f"{statistics.fmean(scratch_val):.4f} | "
                     f"{statistics.fmean(test):.4f} ± {statistics.stdev(test):.4f} |")
    args.out.mkdir(parents=True, exist_ok=True)
    suffix = (f"-n{args.train_size}" if args.train_size else "") + ("-clean-val" if args.clean_validation else "")
    path = args.out / f"proxy_fidelity-{args.task}-{args.noise_kind}{args.label_noise}{suffix}.md"
    path.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
