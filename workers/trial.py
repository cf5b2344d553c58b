"""What every Ray Tune trial of a job shares, and the rules all trials follow.

One :class:`TrialPayload` carries a job's task and tensors to its trials through Ray's object
store (``tune.with_parameters``), so workers on other machines never read the controller's disk.
One device rule (:func:`trial_device`) and one report format (:func:`epoch_metrics`) hold for the
search's fine-tunes and for strategy runs alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ray
import torch
from torch import Tensor

from workers.tasks import Recipe, TaskData
from workers.training import EpochResult, pick_device


@dataclass(frozen=True)
class TrialPayload:
    """A job's task and data, as CPU tensors.

    Attributes:
        task_name: registered task (its model factory builds the network).
        input_shape, num_classes: model construction arguments.
        recipe: the task's recipe (optimiser, batch size, learning rates).
        x_train, y_train, x_val, y_val: training and validation tensors (noisy labels).
        x_test, y_test: the clean test split, for trials that report test accuracy (else ``None``).
    """

    task_name: str
    input_shape: tuple[int, ...]
    num_classes: int
    recipe: Recipe
    x_train: Tensor
    y_train: Tensor
    x_val: Tensor
    y_val: Tensor
    x_test: Tensor | None = None
    y_test: Tensor | None = None

    @classmethod
    def of(cls, task_name: str, recipe: Recipe, data: TaskData, with_test: bool = False) -> "TrialPayload":
        """The payload of ``data``; the test split travels only ``with_test``."""
        return cls(task_name, data.input_shape, data.num_classes, recipe, data.x_train, data.y_train, data.x_val,
                   data.y_val, data.x_test if with_test else None, data.y_test if with_test else None)


def trial_device() -> torch.device:
    """CUDA when Ray gave this trial a GPU and torch sees one, the CPU otherwise (also outside Ray)."""
    return pick_device(want_gpu=ray.is_initialized() and bool(ray.get_gpu_ids()))


def trial_node_id() -> str:
    """The Ray node running this trial ("" outside Ray)."""
    return ray.get_runtime_context().get_node_id() if ray.is_initialized() else ""


def epoch_metrics(result: EpochResult, objective: float, device: torch.device, node_id: str) -> dict[str, Any]:
    """What every trial reports after each epoch: ``epoch``, ``val_accuracy``, ``objective`` (the
    value the searcher maximises), ``train_loss``, ``epoch_seconds`` (wall-clock), ``samples_per_second``,
    ``backward_samples`` and ``forward_samples`` (per epoch), ``steps``, ``device`` and ``node_id``."""
    return {
        "epoch": result.epoch,
        "val_accuracy": result.val_accuracy,
        "objective": objective,
        "train_loss": result.train_loss,
        "epoch_seconds": result.seconds,
        "samples_per_second": result.samples / max(result.seconds, 1e-9),
        "backward_samples": result.samples,
        "forward_samples": result.forward_samples,
        "steps": result.steps,
        "device": str(device),
        "node_id": node_id,
    }


#: config key a trial's index travels under (set by the controller's searcher; strategy runs use ``seed``)
TRIAL_INDEX_KEY = "_trial_index"


def recognisable(trainable: Any, job_id: int, index_key: str = TRIAL_INDEX_KEY) -> type:
    """``trainable`` (a Tune function trainable, e.g. from ``tune.with_parameters``) whose actors show
    as ``samplersearch job <job_id> trial <index>`` in the Ray dashboard's *Repr* column.

    Ray fixes an actor's repr when the actor is created, so an actor Tune reuses for later trials
    keeps the index of the first trial it ran."""

    if not isinstance(trainable, type):
        from ray.tune.trainable import wrap_function

        trainable = wrap_function(trainable)  # what Tune does with a function trainable

    class SamplersearchTrial(trainable):  # type: ignore[misc, valid-type]
        def __repr__(self) -> str:
            return f"samplersearch job {job_id} trial {self.config.get(index_key, '?')}"

    SamplersearchTrial.__qualname__ = SamplersearchTrial.__name__ = f"SamplersearchJob{job_id}Trial"
    return SamplersearchTrial
