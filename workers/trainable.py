"""The Ray Tune trainable of a search job: fine-tune the shared weights under one candidate
Swift Sampler and report validation accuracy after each epoch."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import torch
from ray import tune
from torch import Tensor

from sampler_space.space import SamplerSpace
from sampler_space.swift import weights_from_transformed
from workers.tasks import get_task
from workers.training import EpochResult, train
from workers.trial import TrialPayload, epoch_metrics, trial_device, trial_node_id


@dataclass(frozen=True)
class FineTunePayload:
    """What every trial of one search job shares. Tensors are CPU tensors.

    Attributes:
        trial: the task and its data.
        shared_state: state dict of the shared weights.
        transformed_features: ``(N, F)`` training-set features after the job's transforms, in [0, 1].
        space: the sampler space; a trial's config is a point keyed by ``space.names``.
        epsilon: weight floor of the sampler.
        fine_tune_epochs: E_f.
        fine_tune_lr: peak learning rate of the fine-tune (cosine to 0 over E_f epochs).
        objective: ``"last"`` (val accuracy after the last epoch), ``"best"`` (best epoch) or
            ``"tail-mean"`` (see :func:`objective_value`).
        seed: training seed, the same for every candidate (common random numbers make the
            comparison between candidates less noisy).
    """

    trial: TrialPayload
    shared_state: dict[str, Tensor]
    transformed_features: Tensor
    space: SamplerSpace
    epsilon: float
    fine_tune_epochs: int
    objective: str
    seed: int
    fine_tune_lr: float


def objective_value(kind: str, val_accuracies: list[float], epochs: int) -> float:
    """A trial's objective after the epochs in ``val_accuracies`` (in [0, 1], one per epoch so far)
    of a fine-tune of ``epochs`` epochs: the last value (``"last"``), the best (``"best"``) or
    (``"tail-mean"``) the mean over the last ``ceil(epochs / 2)`` epochs, or over those so far."""
    if kind == "best":
        return max(val_accuracies)
    if kind == "tail-mean":
        window = val_accuracies[-math.ceil(epochs / 2):]
        return sum(window) / len(window)
    return val_accuracies[-1]


def run_fine_tune(config: dict[str, Any], payload: FineTunePayload, report=None) -> list[EpochResult]:
    """Fine-tune from the shared weights under the candidate in ``config``; report each epoch.

    ``report(metrics: dict)`` defaults to ``ray.tune.report``; metrics are :func:`epoch_metrics`.
    Raises :class:`~sampler_space.space.InvalidCandidateError` for a config outside the space.
    """
    report = tune.report if report is None else report
    knots = payload.space.decode(config)
    data = payload.trial
    device = trial_device()
    node_id = trial_node_id()
    torch.manual_seed(payload.seed)
    model = get_task(data.task_name).build_model(data.input_shape, data.num_classes)
    model.load_state_dict(payload.shared_state)
    model.to(device)
    weights = weights_from_transformed(payload.transformed_features.to(device), knots, payload.epsilon)
    val_accuracies: list[float] = []

    def on_epoch(result: EpochResult) -> None:
        val_accuracies.append(result.val_accuracy)
        objective = objective_value(payload.objective, val_accuracies, payload.fine_tune_epochs)
        report(epoch_metrics(result, objective, device, node_id))

    return train(
        model, data.x_train.to(device), data.y_train.to(device), data.x_val.to(device), data.y_val.to(device),
        epochs=payload.fine_tune_epochs, lr=payload.fine_tune_lr, recipe=data.recipe, seed=payload.seed,
        weights=weights, on_epoch=on_epoch,
    )


def fine_tune_trainable(config: dict[str, Any], payload: FineTunePayload) -> None:
    """Ray Tune function trainable; wrap with ``tune.with_parameters(fine_tune_trainable, payload=...)``."""
    run_fine_tune(config, payload)


def fine_tune_objective(config: dict[str, Any], payload: FineTunePayload, seed: int) -> float:
    """The objective the candidate in ``config`` reaches when fine-tuned with training seed
    ``seed`` instead of the job's: a fresh measurement of it (the verify stage's), outside Tune."""
    reported: list[dict[str, Any]] = []
    run_fine_tune(config, replace(payload, seed=seed), report=reported.append)
    return float(reported[-1]["objective"])
