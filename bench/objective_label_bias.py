"""How much of the fine-tune objective's error is the validation labels' noise?

For K candidate samplers (uniform, the hand-set keep-low-loss sampler, Sobol points) fine-tuned
from the shared weights as a search trial is, score the fine-tuned model four ways and rank the
candidates by each against the model's clean *test* accuracy:

- ``noisy``: accuracy on the noisy validation split (what the search uses by default);
- ``anchor`` and ``confident``: that accuracy corrected for class-conditional label noise,
  ``trace(M T^-1)`` with ``M`` the joint of predictions and noisy validation labels and ``T`` the
  noise transition matrix estimated from the reference model's training-set probabilities, by
  anchor points (Patrini et al., 2017; 97th percentile) or by the confident joint (Northcutt et
  al., 2021);
- ``clean``: accuracy on the same validation rows with their true labels (``task.clean_validation``).

    python bench/objective_label_bias.py --task mnist1d --label-noise 0.4 --noise-kind asymmetric
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch
from proxy_fidelity import keep_low_loss
from scipy.stats import spearmanr
from torch.quasirandom import SobolEngine

from sampler_space.features import predict_logits
from sampler_space.swift import weights_from_transformed
from service.cluster import connect_driver
from service.config import Settings
from service.jobs.search import prepare_search
from service.spec import JobSpec
from workers.reference import build_model
from workers.tasks import get_task, load_task_data
from workers.training import accuracy, train

SCORES = ("noisy", "anchor", "confident", "clean")


def anchor_transition(probs: torch.Tensor, quantile: float = 0.97) -> torch.Tensor:
    """``T[i] = p(noisy label | x_i*)`` at the sample whose probability of class i is at ``quantile``."""
    rows = []
    for i in range(probs.shape[1]):
        column = probs[:, i]
        rows.append(probs[(column - torch.quantile(column, quantile)).abs().argmin()])
    transition = torch.stack(rows)
    return transition / transition.sum(1, keepdim=True)


def confident_transition(probs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Row-normalised confident joint of (likely true class, noisy label)."""
    classes = probs.shape[1]
    thresholds = torch.stack([probs[labels == j, j].mean() for j in range(classes)])
    above = probs >= thresholds
    likely = torch.where(above, probs, torch.full_like(probs, -1.0)).argmax(1)
    confident = above.any(1)
    joint = torch.full((classes, classes), 1e-3)
    joint.index_put_((likely[confident], labels[confident]), torch.ones(int(confident.sum())), accumulate=True)
    return joint / joint.sum(1, keepdim=True)


def corrected_accuracy(predictions: torch.Tensor, labels: torch.Tensor, inverse: torch.Tensor) -> float:
    classes = inverse.shape[0]
    joint = torch.zeros(classes, classes)
    joint.index_put_((predictions, labels), torch.ones(len(labels)), accumulate=True)
    return float(torch.trace(joint / len(labels) @ inverse))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="mnist1d")
    parser.add_argument("--label-noise", type=float, default=0.4)
    parser.add_argument("--noise-kind", default="asymmetric", choices=["symmetric", "asymmetric"])
    parser.add_argument("--candidates", type=int, default=12)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="samplersearch-bias-"))
    settings = Settings(database_url=f"sqlite:///{workdir / 'unused.db'}", results_dir=workdir / "ray")
    connect_driver(settings)
    spec = JobSpec.model_validate({"task": {"name": args.task, "label_noise": args.label_noise,
                                            "noise_kind": args.noise_kind}})
    prepared = prepare_search(spec, settings)
    payload, data = prepared.payload, prepared.data
    trusted = load_task_data(replace(prepared.task_spec, clean_validation=True), prepared.seed, settings.task_paths())
    recipe = get_task(args.task).recipe
    reference = build_model(prepared.task_spec, data, prepared.seed, torch.device("cpu"))
    reference.load_state_dict(prepared.shared_state)
    probs = predict_logits(reference, data.x_train).softmax(1)
    inverses = {"anchor": torch.linalg.inv(anchor_transition(probs)),
                "confident": torch.linalg.inv(confident_transition(probs, data.y_train))}

    names = list(payload.space.names)
    sobol = SobolEngine(len(names), scramble=True, seed=1).draw(args.candidates - 2, dtype=torch.float64)
    candidates = {"uniform": payload.space.uniform_point(), "keep-low-loss": keep_low_loss(names)}
    candidates |= {f"sobol-{i}": dict(zip(names, row.tolist())) for i, row in enumerate(sobol)}
    rows = {}
    for label, point in candidates.items():
        weights = weights_from_transformed(payload.transformed_features, payload.space.decode(point), payload.epsilon)
        runs = []
        for seed in range(1, args.seeds + 1):
            torch.manual_seed(seed)
            model = get_task(args.task).build_model(data.input_shape, data.num_classes)
            model.load_state_dict(payload.shared_state)
            train(model, data.x_train, data.y_train, data.x_val, data.y_val, epochs=payload.fine_tune_epochs,
                  lr=recipe.fine_tune_lr, recipe=recipe, seed=seed, weights=weights)
            predicted = predict_logits(model, data.x_val).argmax(1)
            runs.append({"noisy": float((predicted == data.y_val).float().mean()),
                         **{k: corrected_accuracy(predicted, data.y_val, inv) for k, inv in inverses.items()},
                         "clean": float((predicted == trusted.y_val).float().mean()),
                         "test": accuracy(model, data.x_test, data.y_test)})
        rows[label] = {key: statistics.fmean(run[key] for run in runs) for key in (*SCORES, "test")}
        print(label, rows[label], flush=True)
    test = [row["test"] for row in rows.values()]
    top = sorted(range(len(test)), key=lambda i: -test[i])[: len(test) // 2]
    command = (f"python bench/objective_label_bias.py --task {args.task} --label-noise {args.label_noise} "
               f"--noise-kind {args.noise_kind} --candidates {args.candidates} --seeds {args.seeds}")
    lines = [f"# Label noise in the objective: {args.task}, {args.noise_kind} noise {args.label_noise}", "",
             f"`{command}` ({time.perf_counter() - started:.0f} s). Rank correlation of each score of the "
             f"fine-tuned model with its clean test accuracy, over {len(rows)} candidates x {args.seeds} seeds.", "",
             "| score | Spearman, all | Spearman, top half by test accuracy |", "|---|---|---|"]
    for score in SCORES:
        values = [row[score] for row in rows.values()]
        lines.append(f"| {score} | {spearmanr(values, test).statistic:.2f} | "
                     f"{spearmanr([values[i] for i in top], [test[i] for i in top]).statistic:.2f} |")
    lines += ["", "| candidate | " + " | ".join(SCORES) + " | test |", "|---|" + "---|" * (len(SCORES) + 1)]
    for label, row in sorted(rows.items(), key=lambda item: -item[1]["test"]):
        lines.append(f"| {label} | " + " | ".join(f"{row[k]:.4f}" for k in (*SCORES, "test")) + " |")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"objective_label_bias-{args.task}-{args.noise_kind}{args.label_noise}.md"
    path.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
