"""Train from scratch under a sampler (or uniformly) and report validation and test accuracy:
the user's check that a found sampler beats uniform sampling."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from sampler_space.swift import SwiftSampler
from workers.reference import build_model, reference_outputs
from workers.tasks import TaskPaths, TaskSpec, get_task, load_task_data
from workers.training import EpochResult, accuracy, pick_device, train


@dataclass(frozen=True)
class Evaluation:
    """Outcome of one from-scratch training run. Accuracies in [0, 1]; seconds wall-clock."""

    task: str
    sampler: str
    seed: int
    epochs: int
    val_accuracy: float
    test_accuracy: float
    seconds: float
    device: str
    data_seed: int = 0


def evaluate_sampler(spec: TaskSpec, seed: int, sampler: SwiftSampler | None, paths: TaskPaths, *,
                     epochs: int | None = None, sampler_name: str = "uniform", use_gpu: bool = True,
                     data_seed: int | None = None, on_epoch: Callable[[EpochResult], None] | None = None,
                     reference_rounds: int = 1) -> Evaluation:
    """Train the task's model from a seeded initialisation for ``epochs`` (default: the task's
    ``scratch_epochs``) under ``sampler`` (``None``: uniform) and measure accuracy.

    ``seed`` seeds the initialisation and the draws; ``data_seed`` (default ``seed``) the label
    noise, imbalance and validation split. The sampler's features come from the shared-weights
    reference model of ``(spec, data_seed)`` after ``reference_rounds`` rounds (trained and cached
    under ``paths.cache_dir`` if needed), the same model a search job with that seed used.
    ``on_epoch`` sees each epoch's result.
    """
    data_seed = seed if data_seed is None else data_seed
    task = get_task(spec.name)
    recipe = task.recipe
    epochs = recipe.scratch_epochs if epochs is None else epochs
    device = pick_device(use_gpu)
    data = load_task_data(spec, data_seed, paths)
    started = time.perf_counter()
    weights = None
    if sampler is not None:
        features = reference_outputs(spec, data, data_seed, paths.cache_dir, sampler.features, want_gpu=use_gpu,
                                     rounds=reference_rounds).features
        weights = sampler.weights(features.raw.to(device))
    model = build_model(spec, data, seed, device)
    history = train(model, data.x_train.to(device), data.y_train.to(device), data.x_val.to(device),
                    data.y_val.to(device), epochs=epochs, lr=recipe.lr, recipe=recipe, seed=seed, weights=weights,
                    on_epoch=on_epoch)
    test = accuracy(model, data.x_test.to(device), data.y_test.to(device))
    return Evaluation(spec.name, sampler_name, seed, epochs, history[-1].val_accuracy, test,
                      time.perf_counter() - started, str(device), data_seed)
