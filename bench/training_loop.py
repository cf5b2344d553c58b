"""The one training loop vs a plain PyTorch loop (``DataLoader`` over a ``TensorDataset``).

Same model, data, optimiser, batch size and epochs; reports samples per second of each and their
ratio, for uniform sampling (plain loop: ``shuffle=True``) and for weighted sampling (plain loop:
``WeightedRandomSampler``). Runs on CUDA when available, else the CPU.

    python bench/training_loop.py --task mnist1d --epochs 5 --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset, WeightedRandomSampler

from workers.reference import build_model
from workers.tasks import TaskSpec, get_task, load_task_data
from workers.training import make_optimizer, pick_device, train


def plain_loop(model: nn.Module, x: torch.Tensor, y: torch.Tensor, epochs: int, lr: float, recipe, device,
               weights: torch.Tensor | None) -> None:
    dataset = TensorDataset(x, y)
    if weights is None:
        loader = DataLoader(dataset, batch_size=recipe.batch_size, shuffle=True)
    else:
        loader = DataLoader(dataset, batch_size=recipe.batch_size,
                            sampler=WeightedRandomSampler(weights, num_samples=len(y), replacement=True))
    optimizer = make_optimizer(model, recipe, lr)
    loss_function = nn.CrossEntropyLoss()
    model.train()
    for _ in range(epochs):
        for xb, yb in loader:
            xb, yb = xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
            loss = loss_function(model(xb), yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="mnist1d")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = pick_device(want_gpu=True)
    spec = TaskSpec(args.task)
    data = load_task_data(spec, 0)
    recipe = get_task(args.task).recipe
    n = len(data.y_train)
    weights = torch.rand(n, generator=torch.Generator().manual_seed(0))
    rows = []
    for mode in ("uniform", "weighted"):
        timings = {"samplersearch": [], "plain PyTorch": []}
        for _ in range(args.repeats):
            for name in timings:
                model = build_model(spec, data, 0, device)
                if device.type == "cuda":
                    torch.cuda.synchronize()
                started = time.perf_counter()
                if name == "samplersearch":
                    train(model, data.x_train.to(device), data.y_train.to(device), data.x_val.to(device),
                          data.y_val.to(device), epochs=args.epochs, lr=recipe.lr, recipe=recipe, seed=0,
                          weights=None if mode == "uniform" else weights.to(device))
                else:
                    plain_loop(model, data.x_train, data.y_train, args.epochs, recipe.lr, recipe, device,
                               None if mode == "uniform" else weights)
                if device.type == "cuda":
                    torch.cuda.synchronize()
                timings[name].append(time.perf_counter() - started)
        ours = n * args.epochs / statistics.median(timings["samplersearch"])
        plain = n * args.epochs / statistics.median(timings["plain PyTorch"])
        rows.append((mode, ours, plain))
    lines = [
        f"# Training loop throughput: {args.task} on {device} ({args.threads} thread(s))",
        "",
        f"Command: `python bench/training_loop.py --task {args.task} --epochs {args.epochs} --repeats {args.repeats} "
        f"--threads {args.threads}`",
        "",
        "samplersearch's loop includes one validation pass per epoch; the plain loop does not.",
        "",
        "| sampling | samplersearch (samples/s) | plain PyTorch DataLoader (samples/s) | ratio |",
        "|---|---|---|---|",
        *[f"| {mode} | {ours:,.0f} | {plain:,.0f} | {ours / plain:.2f}x |" for mode, ours, plain in rows],
    ]
    out = args.out or Path(__file__).parent / "results" / f"training_loop-{args.task}-{device.type}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
