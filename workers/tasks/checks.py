"""What every task's data must satisfy before any training, so that a degenerate dataset is
refused with one sentence instead of running to a meaningless ``succeeded``.

The limits:

- labels are the class indices ``0..C-1`` with every class present in the training split, and
  at least two classes (a single class makes accuracy 1.0 by construction);
- validation and test labels are classes the training split has;
- at least ``MIN_TRAIN_SAMPLES`` training and ``MIN_EVAL_SAMPLES`` validation and test samples,
  after the validation split is carved out;
- at most ``MAX_CLASSES`` classes;
- finite statistics: the training mean and standard deviation (computed in float64) are finite,
  some feature varies, and every split stays finite in float32 once standardised.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workers.tasks.definition import RawData, TaskDataError

MIN_TRAIN_SAMPLES = 20
MIN_EVAL_SAMPLES = 10
MAX_CLASSES = 10_000
_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _classes(labels: np.ndarray) -> str:
    shown = ", ".join(str(int(c)) for c in labels[:5])
    return shown + (f" and {len(labels) - 5} more" if len(labels) > 5 else "")


def check_labels(raw: RawData, task: str) -> int:
    """The number of classes ``C`` of ``raw``; raises :class:`TaskDataError` unless the labels
    are dense class indices (see the module docstring)."""
    y = raw.y_train
    top = int(y.max())
    if top >= min(len(y), MAX_CLASSES):  # checked before bincount allocates top + 1 counters
        raise TaskDataError(f"task {task!r}: y_train holds the label {top}, but labels must be class indices "
                            f"0..C-1 with every class present in training ({len(y)} samples, at most "
                            f"{MAX_CLASSES} classes)")
    counts = np.bincount(y, minlength=top + 1)
    if np.count_nonzero(counts) < 2:
        raise TaskDataError(f"task {task!r}: y_train has a single class ({top}); a classifier needs at least two")
    absent = np.flatnonzero(counts == 0)
    if len(absent):
        raise TaskDataError(f"task {task!r}: labels must be the class indices 0..{top} with every class present in "
                            f"training; class(es) {_classes(absent)} never occur in y_train")
    for split, labels in (("val", raw.y_val), ("test", raw.y_test)):
        if labels is not None and int(labels.max()) > top:
            raise TaskDataError(f"task {task!r}: y_{split} holds the label {int(labels.max())}, a class y_train "
                                f"never has (its classes are 0..{top})")
    return top + 1


def check_split_sizes(task: str, train: int, val: int, test: int, train_classes: int) -> None:
    """Refuse splits too small to train on or to measure with (sizes in samples)."""
    for split, size, least in (("training", train, MIN_TRAIN_SAMPLES), ("validation", val, MIN_EVAL_SAMPLES),
                               ("test", test, MIN_EVAL_SAMPLES)):
        if size < least:
            raise TaskDataError(f"task {task!r}: the {split} split has {size} samples, fewer than the {least} "
                                "needed for a meaningful accuracy")
    if train_classes < 2:
        raise TaskDataError(f"task {task!r}: the training split keeps a single class after imbalance and the "
                            "validation carve-out")


@dataclass(frozen=True)
class Standardisation:
    """``x -> float32 (x - mean) / std`` with the training split's float64 statistics: per
    feature (``mean`` and ``std`` shaped ``(1, *sample_shape)``) or one scalar pair (shape ``()``)."""

    mean: np.ndarray
    std: np.ndarray
    task: str

    def apply(self, x: np.ndarray, split: str) -> np.ndarray:
        """Standardised ``x`` as float32; raises :class:`TaskDataError` when a value overflows."""
        with np.errstate(over="ignore", invalid="ignore"):
            scaled = (x.astype(np.float64, copy=False) - self.mean) / self.std
        if not (np.abs(scaled) <= _FLOAT32_MAX).all():
            raise TaskDataError(f"task {self.task!r}: x_{split} overflows float32 once standardised with x_train's "
                                "statistics; its values are far outside the training range")
        return scaled.astype(np.float32)


def standardiser(x_train: np.ndarray, axis: int | None, task: str) -> Standardisation:
    """The standardisation fitted on ``x_train`` (per feature when ``axis`` is 0, one scalar pair
    when ``None``); a constant feature keeps std 1.

    Raises:
        TaskDataError: non-finite statistics, or no feature that varies.
    """
    keep = axis is not None
    x64 = x_train.astype(np.float64, copy=False)
    with np.errstate(over="ignore", invalid="ignore"):
        mean = x64.mean(axis=axis, keepdims=keep)
        std = x64.std(axis=axis, keepdims=keep)
    if not (np.isfinite(mean).all() and np.isfinite(std).all()):
        raise TaskDataError(f"task {task!r}: x_train's mean or standard deviation overflows float64; "
                            "rescale the features")
    if not np.any(std > 0):
        raise TaskDataError(f"task {task!r}: x_train is constant; there is nothing to learn from")
    return Standardisation(np.asarray(mean), np.asarray(np.where(std > 0, std, 1.0)), task)
