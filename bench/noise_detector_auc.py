"""Could a better reference feature find the flipped labels? AUC of candidate features at flagging them.

The searched sampler can only down-weight flipped labels as well as its features tell them apart.
This measures, on one noisy task, the ROC AUC (flipped = positive) of:

- the reference model's loss after E_o' epochs of uniform training, for several E_o' (each run
  with its own cosine schedule, as a shorter or longer pre-training would have): does the model
  memorise the flipped labels, so that an earlier checkpoint would separate them better?
- the mean loss over those epochs (a training-dynamics feature);
- the out-of-fold loss under K-fold training (no sample scored by a model that saw it);
- the loss under an ensemble of 3 seeds;
- k-nearest-neighbour label disagreement in the standardised input space (k = 20).

    python bench/noise_detector_auc.py --task mnist1d --label-noise 0.4
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score
from torch import Tensor, nn

from workers.reference import build_model
from workers.tasks import TaskData, TaskSpec, get_task, load_task_data
from workers.training import train


def label_loss(model: nn.Module, data: TaskData) -> Tensor:
    """Per-sample cross-entropy ``(N,)`` of the (noisy) training labels under ``model``."""
    model.eval()
    with torch.no_grad():
        return F.cross_entropy(model(data.x_train), data.y_train, reduction="none")


def fit(spec: TaskSpec, data: TaskData, rows: Tensor, epochs: int, seed: int,
        trajectory: list[Tensor] | None = None) -> nn.Module:
    """The task's model trained uniformly on training ``rows`` for ``epochs`` epochs (recipe lr);
    ``trajectory`` collects :func:`label_loss` after every epoch."""
    recipe = get_task(spec.name).recipe
    model = build_model(spec, data, seed, torch.device("cpu"))

    def on_epoch(_result) -> None:
        if trajectory is not None:
            trajectory.append(label_loss(model, data))
            model.train()

    train(model, data.x_train[rows], data.y_train[rows], data.x_val, data.y_val, epochs=epochs, lr=recipe.lr,
          recipe=recipe, seed=seed, on_epoch=on_epoch)
    return model


def knn_disagreement(data: TaskData, k: int) -> Tensor:
    """Share of a sample's ``k`` nearest neighbours (standardised inputs) whose label differs ``(N,)``."""
    x = data.x_train.flatten(1)
    x = (x - x.mean(0)) / (x.std(0) + 1e-6)
    distances = torch.cdist(x, x)
    distances.fill_diagonal_(float("inf"))
    neighbours = distances.topk(k, largest=False).indices
    return (data.y_train[neighbours] != data.y_train[:, None]).float().mean(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="mnist1d")
    parser.add_argument("--label-noise", type=float, default=0.4)
    parser.add_argument("--noise-kind", default="symmetric", choices=["symmetric", "asymmetric"])
    parser.add_argument("--epochs", type=int, nargs="+", default=[3, 5, 8, 15, 25])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    started = time.perf_counter()
    spec = TaskSpec(args.task, args.label_noise, args.noise_kind)
    data = load_task_data(spec, 0)
    flipped = data.train_flipped.numpy()
    everyone = torch.arange(len(data.y_train))
    pretrain = get_task(args.task).recipe.pretrain_epochs

    def auc(score: Tensor) -> float:
        return float(roc_auc_score(flipped, score.numpy()))

    rows: list[tuple[str, float]] = []
    for epochs in args.epochs:
        trajectory: list[Tensor] = []
        model = fit(spec, data, everyone, epochs, 0, trajectory)
        marker = " (the recipe's E_o)" if epochs == pretrain else ""
        rows.append((f"loss after {epochs} epochs{marker}", auc(label_loss(model, data))))
        rows.append((f"mean loss over those {epochs} epochs", auc(torch.stack(trajectory).mean(0))))
    for folds in (2, 4):
        parts = torch.randperm(len(everyone), generator=torch.Generator().manual_seed(0)).chunk(folds)
        out_of_fold = torch.empty(len(everyone))
        for k, held_out in enumerate(parts):
            rest = torch.cat([part for j, part in enumerate(parts) if j != k])
            out_of_fold[held_out] = label_loss(fit(spec, data, rest, pretrain, 0), data)[held_out]
        rows.append((f"out-of-fold loss, {folds} folds ({pretrain} epochs)", auc(out_of_fold)))
    probabilities = torch.stack([F.softmax(fit(spec, data, everyone, pretrain, seed)(data.x_train).detach(), 1)
                                 for seed in range(3)]).mean(0)
    rows.append((f"loss under a 3-seed ensemble ({pretrain} epochs)",
                 auc(-probabilities[everyone, data.y_train].log())))
    rows.append(("20-NN label disagreement, standardised inputs", auc(knn_disagreement(data, 20))))
    lines = [f"# Noise-detector AUC of reference features: {args.task}, {args.noise_kind} noise {args.label_noise}", "",
             f"`python bench/noise_detector_auc.py --task {args.task} --label-noise {args.label_noise} --noise-kind "
             f"{args.noise_kind}` ({time.perf_counter() - started:.0f} s). ROC AUC of each score at flagging the "
             f"flipped training labels ({flipped.mean():.1%} of rows), data seed 0, training seed 0.", "",
             "| score | AUC |", "|---|---|", *(f"| {name} | {value:.3f} |" for name, value in rows)]
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"noise_detector_auc-{args.task}-{args.noise_kind}{args.label_noise}.md"
    path.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
