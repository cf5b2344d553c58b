"""Turn a task spec and a seed into tensors: perturb the training split, carve validation,
standardise with training statistics."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from workers.tasks.checks import check_labels, check_split_sizes, standardiser
from workers.tasks.definition import TaskPaths, TaskSpec
from workers.tasks.perturbation import flip_labels, long_tail_subset
from workers.tasks.registry import get_task

# Independent random streams per purpose, so that changing one perturbation leaves the others.
_IMBALANCE_STREAM, _NOISE_STREAM, _VALIDATION_STREAM, _SUBSET_STREAM = 1, 2, 3, 4


@dataclass(frozen=True)
class TaskData:
    """Tensors of one task instance, on the CPU.

    ``x_*`` float32 ``(N, ...)`` standardised with training statistics; ``y_*`` int64 ``(N,)``.
    ``y_train`` carries the injected noise, and so does ``y_val`` unless the spec asks for a clean
    one; ``train_flipped`` marks flipped training labels (for analysis only: nothing in the search
    reads it). The test split is clean.

    Where the rows came from, in the task's training split as it ships (``raw_train_size``
    rows): ``train_rows`` (int64, one per row of ``x_train``) and ``val_rows`` (one per row of
    ``x_val``; ``None`` when the dataset ships its own validation split). Rows that the
    long-tail subset dropped are in neither. ``input_mean`` and ``input_std`` (float64) are the
    standardisation applied: ``x = (raw - mean) / std``.
    """

    x_train: Tensor
    y_train: Tensor
    train_flipped: Tensor
    x_val: Tensor
    y_val: Tensor
    x_test: Tensor
    y_test: Tensor
    num_classes: int
    train_rows: np.ndarray | None = None
    val_rows: np.ndarray | None = None
    raw_train_size: int | None = None
    input_mean: np.ndarray | None = None
    input_std: np.ndarray | None = None

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])


def _rng(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, stream])


def load_task_data(spec: TaskSpec, seed: int, paths: TaskPaths = TaskPaths()) -> TaskData:
    """Load ``spec.name``'s data (files under ``paths``) and apply ``spec``'s perturbations,
    deterministically in ``seed``.

    Order: random subset of ``spec.train_size`` training rows, long-tail subset of the training
    split, label noise on it, then (unless the dataset ships one) a validation split carved from
    the noisy training data (with its true labels under ``spec.clean_validation``). Test data is
    untouched.

    Raises:
        TaskDataError: the data is unreadable or degenerate (see ``workers.tasks.checks``).
    """
    task = get_task(spec.name)
    raw = task.load(spec, paths)
    num_classes = check_labels(raw, spec.name)

    rows = np.arange(len(raw.y_train))
    if spec.train_size is not None and spec.train_size < len(rows):
        rows = np.sort(_rng(seed, _SUBSET_STREAM).choice(len(rows), spec.train_size, replace=False))
    keep = rows[long_tail_subset(raw.y_train[rows], spec.imbalance, _rng(seed, _IMBALANCE_STREAM))]
    x_train, y_train, train_rows, val_rows = raw.x_train[keep], raw.y_train[keep], keep, None
    y_noisy, flipped = flip_labels(y_train, spec.label_noise, spec.noise_kind, num_classes, _rng(seed, _NOISE_STREAM))

    if raw.x_val is not None and raw.y_val is not None:
        x_val, y_val = raw.x_val, raw.y_val
    else:
        order = _rng(seed, _VALIDATION_STREAM).permutation(len(y_noisy))
        n_val = max(1, int(round(task.validation_fraction * len(order))))
        val, train = np.sort(order[:n_val]), np.sort(order[n_val:])
        x_val, y_val = x_train[val], (y_train if spec.clean_validation else y_noisy)[val]
        x_train, y_noisy, flipped = x_train[train], y_noisy[train], flipped[train]
        train_rows, val_rows = keep[train], keep[val]

    check_split_sizes(spec.name, len(y_noisy), len(y_val), len(raw.y_test), len(np.unique(y_noisy)))
    standardise = standardiser(x_train, 0 if task.standardise == "feature" else None, spec.name)
    scale = lambda a, split: torch.from_numpy(standardise.apply(a, split))  # noqa: E731
    label = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.int64))  # noqa: E731
    return TaskData(
        x_train=scale(x_train, "train"), y_train=label(y_noisy), train_flipped=torch.from_numpy(flipped),
        x_val=scale(x_val, "val"), y_val=label(y_val), x_test=scale(raw.x_test, "test"), y_test=label(raw.y_test),
        num_classes=num_classes, train_rows=np.asarray(train_rows, dtype=np.int64),
        val_rows=None if val_rows is None else np.asarray(val_rows, dtype=np.int64), raw_train_size=len(raw.y_train),
        input_mean=standardise.mean, input_std=standardise.std,
    )
