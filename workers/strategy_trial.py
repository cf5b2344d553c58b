"""The Ray Tune trainable of a strategy job: train from scratch under a fixed strategy for one
seed, report per-epoch validation accuracy, timing and sample counts, and the final test accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ray
import torch
from ray import tune
from torch import Tensor

from sampler_space.strategies import make_strategy
from workers.tasks import Recipe, get_task
from workers.training import EpochResult, accuracy, pick_device, train


@dataclass(frozen=True)
class StrategyPayload:
    """What every seed of a strategy job shares (CPU tensors, through Ray's object store).

    ``static_weights`` (``(N,)``) replaces the strategy by i.i.d. draws from those weights (an
    exported Swift Sampler applied to this task); ``keys`` (``(N, D)``) are NWS's fixed keys when
    they come from a reference model rather than the input.
    """

    task_name: str
    input_shape: tuple[int, ...]
    num_classes: int
    recipe: Recipe
    x_train: Tensor
    y_train: Tensor
    x_val: Tensor
    y_val: Tensor
    x_test: Tensor
    y_test: Tensor
    epochs: int
    strategy_name: str
    strategy_options: dict[str, Any]
    static_weights: Tensor | None = None
    keys: Tensor | None = None


def run_strategy(seed: int, payload: StrategyPayload, report=None) -> list[EpochResult]:
    """Train from a ``seed``-ed initialisation; ``report(metrics)`` defaults to ``ray.tune.report``.

    Metrics per epoch: ``epoch``, ``val_accuracy``, ``objective`` (= ``val_accuracy``),
    ``train_loss``, ``epoch_seconds``, ``backward_samples``, ``forward_samples``, ``steps``,
    ``device``, ``node_id``, and on the last epoch ``test_accuracy``.
    """
    report = tune.report if report is None else report
    device = pick_device(want_gpu=bool(ray.get_gpu_ids()) if ray.is_initialized() else False)
    node_id = ray.get_runtime_context().get_node_id() if ray.is_initialized() else ""
    torch.manual_seed(seed)
    model = get_task(payload.task_name).build_model(payload.input_shape, payload.num_classes).to(device)
    strategy = None if payload.static_weights is not None else make_strategy(payload.strategy_name, payload.strategy_options)
    x_test, y_test = payload.x_test.to(device), payload.y_test.to(device)

    def on_epoch(result: EpochResult) -> None:
        metrics = {
            "epoch": result.epoch, "val_accuracy": result.val_accuracy, "objective": result.val_accuracy,
            "train_loss": result.train_loss, "epoch_seconds": result.seconds, "backward_samples": result.samples,
            "forward_samples": result.forward_samples, "steps": result.steps, "device": str(device), "node_id": node_id,
        }
        if result.epoch == payload.epochs:
            metrics["test_accuracy"] = accuracy(model, x_test, y_test)
        report(metrics)

    return train(
        model, payload.x_train.to(device), payload.y_train.to(device), payload.x_val.to(device),
        payload.y_val.to(device), epochs=payload.epochs, lr=payload.recipe.lr, recipe=payload.recipe, seed=seed,
        weights=None if payload.static_weights is None else payload.static_weights.to(device), strategy=strategy,
        keys=None if payload.keys is None else payload.keys.to(device), on_epoch=on_epoch,
    )


def strategy_trainable(config: dict[str, Any], payload: StrategyPayload) -> None:
    """Ray Tune function trainable; ``config["seed"]`` picks the seed."""
    run_strategy(int(config["seed"]), payload)
