"""How much can a static loss-based sampler gain at all? From-scratch test accuracy under
hand-made per-sample weights, against uniform and the clean-data oracle.

Weights: uniform; the oracle (the flipped samples dropped, which no sampler can know); keep the
fraction q of lowest reference-model loss (others at the weight floor 0.05); and the posterior
probability of being clean under a two-component Gaussian mixture on the loss (the DivideMix
rule). All use the shared-weights reference model of the job (data seed 0), as a search does,
except the last rows, which ask whether a stronger reference model helps: the same 2-GMM rule
on the loss of the reference model after 2 to ``--rounds`` rounds (``search.reference_rounds``:
each round retrained from the same seed under the previous one's P(clean)).
The AUC of the loss at flagging flipped labels, and each rule's share of flipped samples among
the draws, are reported beside the accuracy.

    python bench/reachable_gain.py --task mnist1d --label-noise 0.4 --seeds 1 2 3
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from sklearn.metrics import roc_auc_score

from workers.reference import build_model, clean_probability, reference_outputs
from workers.tasks import TaskSpec, get_task, load_task_data
from workers.training import accuracy, train

FLOOR = 0.05


def rules(loss: torch.Tensor, flipped: torch.Tensor) -> dict[str, torch.Tensor | None]:
    """Named weights ``(N,)`` (``None``: uniform) from the reference loss."""
    rank = loss.argsort().argsort().double() / len(loss)
    found: dict[str, torch.Tensor | None] = {"uniform": None, "oracle (clean only)": (~flipped).double() + 1e-6}
    for q in (0.5, 0.6, 0.7, 0.8):
        found[f"keep lowest {q:.0%} loss"] = (rank < q).double() * (1 - FLOOR) + FLOOR
    found["P(clean) under a 2-GMM on the loss"] = clean_probability(loss)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="mnist1d")
    parser.add_argument("--label-noise", type=float, default=0.4)
    parser.add_argument("--noise-kind", default="symmetric", choices=["symmetric", "asymmetric"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--rounds", type=int, default=3, help="last reference round rated (1: the product's only)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    started = time.perf_counter()
    spec = TaskSpec(args.task, args.label_noise, args.noise_kind)
    data = load_task_data(spec, 0)
    recipe = get_task(args.task).recipe
    cache = Path(tempfile.mkdtemp(prefix="samplersearch-reach-"))
    loss = reference_outputs(spec, data, 0, cache, ["loss"]).features.raw[:, 0]
    flipped = data.train_flipped
    auc = roc_auc_score(flipped.numpy(), loss.numpy())
    candidates = rules(loss, flipped)
    aucs = []
    for round_ in range(2, args.rounds + 1):
        refined = reference_outputs(spec, data, 0, cache, ["loss"], rounds=round_).features.raw[:, 0]
        aucs.append(roc_auc_score(flipped.numpy(), refined.numpy()))
        candidates[f"P(clean) under a 2-GMM on the loss, reference round {round_} (AUC {aucs[-1]:.3f})"] = (
            clean_probability(refined))
    rows = []
    for name, weights in candidates.items():
        share = float(flipped.double().mean() if weights is None else (weights * flipped).sum() / weights.sum())
        tests = []
        for seed in args.seeds:
            model = build_model(spec, data, seed, torch.device("cpu"))
            train(model, data.x_train, data.y_train, data.x_val, data.y_val, epochs=recipe.scratch_epochs,
                  lr=recipe.lr, recipe=recipe, seed=seed, weights=None if weights is None else weights.float())
            tests.append(accuracy(model, data.x_test, data.y_test))
        rows.append((name, share, tests))
        print(name, share, tests, flush=True)
    uniform = statistics.fmean(rows[0][2])
    lines = [f"# Reachable gain of static loss-based weights: {args.task}, {args.noise_kind} noise {args.label_noise}", "",
             f"`python bench/reachable_gain.py --task {args.task} --label-noise {args.label_noise} --noise-kind "
             f"{args.noise_kind} --seeds {' '.join(map(str, args.seeds))} --rounds {args.rounds}` "
             f"({time.perf_counter() - started:.0f} s). "
             f"Reference loss AUC at flagging flipped labels: **{auc:.3f}**. From scratch, "
             f"{recipe.scratch_epochs} epochs, test accuracy mean ± std over seeds {args.seeds}.", "",
             "| weights | flipped share of draws | test accuracy | gain over uniform (points) |", "|---|---|---|---|"]
    for name, share, tests in rows:
        lines.append(f"| {name} | {share:.1%} | {statistics.fmean(tests):.4f} ± {statistics.stdev(tests):.4f} | "
                     f"{100 * (statistics.fmean(tests) - uniform):+.2f} |")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"reachable_gain-{args.task}-{args.noise_kind}{args.label_noise}.md"
    path.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
