"""What a task is: how to load its raw arrays, which model to train, and with which recipe."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from torch import nn

NoiseKind = Literal["symmetric", "asymmetric"]


class TaskDataError(ValueError):
    """A task's data cannot be loaded; the message says how to fix it."""


@dataclass(frozen=True)
class Recipe:
    """Training hyper-parameters of a task.

    Attributes:
        optimizer: ``"adam"`` or ``"sgd"`` (SGD uses Nesterov momentum ``momentum``).
        lr: peak learning rate of shared-weights and from-scratch training.
        fine_tune_lr: peak learning rate of a candidate's fine-tune from the shared weights.
        weight_decay: L2 coefficient passed to the optimiser.
        momentum: SGD momentum (ignored by Adam).
        batch_size: samples per optimiser step.
        pretrain_epochs: E_o, epochs of uniform training that produce the shared weights.
        fine_tune_epochs: E_f, epochs each candidate sampler is fine-tuned for.
        scratch_epochs: epochs of ``evaluate``'s training from scratch.
    Every schedule is a cosine decay from the peak learning rate to zero over the run.
    """

    optimizer: Literal["adam", "sgd"] = "adam"
    lr: float = 1e-3
    fine_tune_lr: float = 5e-4
    weight_decay: float = 0.0
    momentum: float = 0.9
    batch_size: int = 128
    pretrain_epochs: int = 15
    fine_tune_epochs: int = 5
    scratch_epochs: int = 30

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RawData:
    """Arrays as a dataset ships them. ``x_*`` float32 or float64 ``(N, ...)``; ``y_*`` int64 ``(N,)``."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None


@dataclass(frozen=True)
class TaskPaths:
    """Where a task's files are, passed down from the service's settings (workers read no
    environment). Relative paths resolve against the current directory of the process that uses them.

    Attributes:
        data_dir: root of user data files (the ``arrays`` task refuses paths outside it) and of
            dataset copies such as ``fashion-mnist/``.
        cache_dir: generated datasets (``datasets/``) and shared weights (``shared-weights/``).
    """

    data_dir: Path = Path("data")
    cache_dir: Path = Path(".samplersearch/cache")

    def resolved(self) -> "TaskPaths":
        """The same paths made absolute (for processes with another working directory)."""
        return TaskPaths(self.data_dir.resolve(), self.cache_dir.resolve())


@dataclass(frozen=True)
class TaskSpec:
    """A user's choice of task and how to perturb its training split.

    Attributes:
        name: registered task name.
        label_noise: fraction of training labels flipped, in [0, 1).
        noise_kind: ``"symmetric"`` (uniform over the other classes) or ``"asymmetric"``
            (class c -> c + 1 mod C, a class-pair flip).
        imbalance: long-tail ratio n_max / n_min >= 1 of the training split (1 = as shipped).
        data: the ``arrays`` task's ``.npz`` path, relative to the data directory.
        train_size: use a seeded random subset of this many rows of the shipped training split
            (before the long tail and the noise; ``None``: all of it), for quick experiments.
        clean_validation: the validation split carved from the training data keeps its true
            labels (a small trusted set, as teams with a hand-checked subset have); the
            training split stays noisy. A shipped ``x_val, y_val`` is never noised either way.
    """

    name: str
    label_noise: float = 0.0
    noise_kind: NoiseKind = "symmetric"
    imbalance: float = 1.0
    data: str | None = None
    train_size: int | None = None
    clean_validation: bool = False

    def __post_init__(self) -> None:
        if not 0.0 <= self.label_noise < 1.0:
            raise ValueError(f"label_noise must be in [0, 1), got {self.label_noise}")
        if self.noise_kind not in ("symmetric", "asymmetric"):
            raise ValueError(f"noise_kind must be 'symmetric' or 'asymmetric', got {self.noise_kind!r}")
        if not self.imbalance >= 1.0:
            raise ValueError(f"imbalance must be >= 1, got {self.imbalance}")
        if self.train_size is not None and self.train_size < 1:
            raise ValueError(f"train_size must be at least 1, got {self.train_size}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


ModelFactory = Callable[[tuple[int, ...], int], nn.Module]


@dataclass(frozen=True)
class TaskDefinition:
    """A registered task.

    Attributes:
        name: the registry key users type.
        description: one line for ``samplersearch tasks``.
        load: ``load(spec, paths: TaskPaths) -> RawData``; raises :class:`TaskDataError` with a remedy.
        build_model: ``build_model(input_shape, num_classes) -> nn.Module`` returning logits.
        recipe: default training recipe.
        validation_fraction: share of the (perturbed) training split held out for validation
            when the dataset ships no validation split.
        standardise: ``"feature"`` (per input dimension) or ``"global"`` (one mean and std),
            always with training-split statistics.
        size_hint: human-readable sizes for listings.
        takes_data: the task reads a user data file (``TaskSpec.data``); other tasks refuse one.
    """

    name: str
    description: str
    load: Callable[[TaskSpec, TaskPaths], RawData]
    build_model: ModelFactory
    recipe: Recipe = field(default_factory=Recipe)
    validation_fraction: float = 0.2
    standardise: Literal["feature", "global"] = "feature"
    size_hint: str = ""
    takes_data: bool = False
