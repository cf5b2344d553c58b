"""The Ray Tune trainable: fine-tune the shared weights under one candidate Swift Sampler.

Everything a trial needs travels in a :class:`FineTunePayload` through Ray's object store
(``tune.with_parameters``), so workers on other machines never read the controller's disk.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import ray
import torch
from ray import tune
from torch import Tensor

from sampler_space.swift import parameter_names, weights_from_transformed
from workers.tasks import Recipe, get_task
from workers.training import EpochResult, pick_device, train


@dataclass(frozen=True)
class FineTunePayload:
    """What every trial of one search job shares. Tensors are CPU tensors.

    Attributes:
        task_name: registered task (its model factory builds the network).
        input_shape, num_classes: model construction arguments.
        recipe: the task's recipe (optimiser, batch size, fine-tune learning rate).
        shared_state: state dict of the shared weights.
        transformed_features: ``(N, F)`` training-set features after the job's transforms, in [0, 1].
        x_train, y_train, x_val, y_val: training and validation tensors (noisy labels).
        features: feature names, matching ``transformed_features``'s columns.
        segments: knot segments per feature (S); a trial's config holds F * (S + 1) knots.
        epsilon: weight floor of the sampler.
        fine_tune_epochs: E_f.
        objective: ``"last"`` (val accuracy after the last epoch) or ``"best"`` (best epoch).
        seed: training seed, the same for every candidate (common random numbers make the
            comparison between candidates less noisy).
    """

    task_name: str
    input_shape: tuple[int, ...]
    num_classes: int
    recipe: Recipe
    shared_state: dict[str, Tensor]
    transformed_features: Tensor
    x_train: Tensor
    y_train: Tensor
    x_val: Tensor
    y_val: Tensor
    features: tuple[str, ...]
    segments: int
    epsilon: float
    fine_tune_epochs: int
    objective: str
    seed: int


class InvalidCandidateError(ValueError):
    """A trial config whose knots are missing, non-finite or outside [0, 1]."""


def knots_from_config(config: dict[str, Any], features: tuple[str, ...], segments: int) -> Tensor:
    """``(F, S+1)`` float32 knots from a trial config keyed by :func:`parameter_names`."""
    names = parameter_names(features, segments)
    missing = [name for name in names if name not in config]
    if missing:
        raise InvalidCandidateError(f"trial config lacks {', '.join(missing)}")
    values = [float(config[name]) for name in names]
    bad = [name for name, v in zip(names, values) if not (math.isfinite(v) and 0.0 <= v <= 1.0)]
    if bad:
        raise InvalidCandidateError(f"knot values must be finite and in [0, 1]: {', '.join(bad)}")
    return torch.tensor(values, dtype=torch.float32).view(len(features), segments + 1)


def _trial_device() -> torch.device:
    return pick_device(want_gpu=bool(ray.get_gpu_ids()))


def run_fine_tune(config: dict[str, Any], payload: FineTunePayload, report=None) -> list[EpochResult]:
    """Fine-tune from the shared weights under the candidate in ``config``; report each epoch.

    ``report(metrics: dict)`` defaults to ``ray.tune.report``. Metrics per epoch: ``epoch``,
    ``val_accuracy``, ``objective`` (the value the searcher maximises), ``train_loss``,
    ``epoch_seconds``, ``samples_per_second``, ``device`` and ``node_id``.
    """
    report = tune.report if report is None else report
    knots = knots_from_config(config, payload.features, payload.segments)
    device = _trial_device()
    node_id = ray.get_runtime_context().get_node_id() if ray.is_initialized() else ""
    torch.manual_seed(payload.seed)
    model = get_task(payload.task_name).build_model(payload.input_shape, payload.num_classes)
    model.load_state_dict(payload.shared_state)
    model.to(device)
    weights = weights_from_transformed(payload.transformed_features.to(device), knots, payload.epsilon)
    best = -math.inf

    def on_epoch(result: EpochResult) -> None:
        nonlocal best
        best = max(best, result.val_accuracy)
        report({
            "epoch": result.epoch,
            "val_accuracy": result.val_accuracy,
            "objective": best if payload.objective == "best" else result.val_accuracy,
            "train_loss": result.train_loss,
            "epoch_seconds": result.seconds,
            "samples_per_second": result.samples / max(result.seconds, 1e-9),
            "device": str(device),
            "node_id": node_id,
        })

    return train(
        model, payload.x_train.to(device), payload.y_train.to(device), payload.x_val.to(device), payload.y_val.to(device),
        epochs=payload.fine_tune_epochs, lr=payload.recipe.fine_tune_lr, recipe=payload.recipe, seed=payload.seed,
        weights=weights, on_epoch=on_epoch,
    )


def fine_tune_trainable(config: dict[str, Any], payload: FineTunePayload) -> None:
    """Ray Tune function trainable; wrap with ``tune.with_parameters(fine_tune_trainable, payload=...)``."""
    run_fine_tune(config, payload)
