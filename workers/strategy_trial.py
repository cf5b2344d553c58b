"""The Ray Tune trainable of a strategy job: train from scratch under a fixed strategy for one
seed, report per-epoch validation accuracy, timing and sample counts, and the final test accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from ray import tune
from torch import Tensor

from sampler_space.strategies import make_strategy
from workers.tasks import get_task
from workers.training import EpochResult, accuracy, train
from workers.trial import TrialPayload, epoch_metrics, trial_device, trial_node_id


@dataclass(frozen=True)
class StrategyPayload:
    """What every seed of a strategy job shares (CPU tensors, through Ray's object store).

    ``trial`` must carry the test split. ``static_weights`` (``(N,)``) replaces the strategy by
    i.i.d. draws from those weights (an exported Swift Sampler applied to this task); ``keys``
    (``(N, D)``) are NWS's fixed keys when they come from a reference model rather than the input.
    """

    trial: TrialPayload
    epochs: int
    strategy_name: str
    strategy_options: dict[str, Any]
    static_weights: Tensor | None = None
    keys: Tensor | None = None


def run_strategy(seed: int, payload: StrategyPayload, report=None) -> list[EpochResult]:
    """Train from a ``seed``-ed initialisation; ``report(metrics)`` defaults to ``ray.tune.report``.

    Metrics per epoch are :func:`epoch_metrics` (``objective`` = ``val_accuracy``), plus
    ``test_accuracy`` on the last epoch.
    """
    report = tune.report if report is None else report
    data = payload.trial
    if data.x_test is None or data.y_test is None:
        raise ValueError("a strategy run needs the test split in its payload")
    device = trial_device()
    node_id = trial_node_id()
    torch.manual_seed(seed)
    model = get_task(data.task_name).build_model(data.input_shape, data.num_classes).to(device)
    strategy = None if payload.static_weights is not None else make_strategy(payload.strategy_name, payload.strategy_options)
    x_test, y_test = data.x_test.to(device), data.y_test.to(device)

    def on_epoch(result: EpochResult) -> None:
        metrics = epoch_metrics(result, result.val_accuracy, device, node_id)
        if result.epoch == payload.epochs:
            metrics["test_accuracy"] = accuracy(model, x_test, y_test)
        report(metrics)

    return train(
        model, data.x_train.to(device), data.y_train.to(device), data.x_val.to(device),
        data.y_val.to(device), epochs=payload.epochs, lr=data.recipe.lr, recipe=data.recipe, seed=seed,
        weights=None if payload.static_weights is None else payload.static_weights.to(device), strategy=strategy,
        keys=None if payload.keys is None else payload.keys.to(device), on_epoch=on_epoch,
    )


def strategy_trainable(config: dict[str, Any], payload: StrategyPayload) -> None:
    """Ray Tune function trainable; ``config["seed"]`` picks the seed."""
    run_strategy(int(config["seed"]), payload)
