"""The reference-model file a search job exports: the shared-weights model with the task spec it
was trained on and the input standardisation it expects, so that a user can compute the
sampler's features on new data (``features_from_model``) outside samplersearch's jobs.

Format: a ``torch.save`` dict that loads with ``torch.load(..., weights_only=True)``::

    {"format": "samplersearch.reference-model", "version": 1, "task": {task spec},
     "seed": int, "input_shape": [...], "num_classes": int, "state_dict": {...},
     "input_mean": Tensor, "input_std": Tensor}
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from workers.tasks import TaskData, TaskSpec, get_task

FORMAT_NAME = "samplersearch.reference-model"
FORMAT_VERSION = 1


class ReferenceModelFormatError(ValueError):
    """A file that is not a samplersearch reference model of a supported version."""


def reference_model_bytes(spec: TaskSpec, data: TaskData, seed: int, state: dict[str, Tensor]) -> bytes:
    """The exported file of the shared weights ``state`` of ``(spec, seed)``, trained on ``data``."""
    document: dict[str, Any] = {
        "format": FORMAT_NAME, "version": FORMAT_VERSION, "task": spec.to_dict(), "seed": seed,
        "input_shape": list(data.input_shape), "num_classes": data.num_classes,
        "state_dict": {name: value.detach().cpu() for name, value in state.items()},
        "input_mean": torch.as_tensor(data.input_mean, dtype=torch.float64),
        "input_std": torch.as_tensor(data.input_std, dtype=torch.float64),
    }
    buffer = io.BytesIO()
    torch.save(document, buffer)
    return buffer.getvalue()


class ReferenceModel(nn.Module):
    """The task's model with its shared weights, taking inputs as the task's loader reads them
    (for ``arrays``: the rows of your ``x_*``, any shape per row) and standardising them with
    the job's training statistics before the model sees them. Eval mode; returns logits."""

    def __init__(self, model: nn.Module, input_shape: tuple[int, ...], mean: Tensor, std: Tensor,
                 task: dict[str, Any]) -> None:
        super().__init__()
        self.model, self.input_shape, self.task = model, input_shape, task
        self.register_buffer("input_mean", mean.float())
        self.register_buffer("input_std", std.float())
        self.eval()

    def forward(self, inputs: Tensor) -> Tensor:
        x = inputs.float().reshape(len(inputs), *self.input_shape)
        mean = self.input_mean.reshape(1, *self.input_shape) if self.input_mean.dim() else self.input_mean
        std = self.input_std.reshape(1, *self.input_shape) if self.input_std.dim() else self.input_std
        return self.model((x - mean) / std)


def load_reference_model(source: str | Path | bytes, map_location: str | torch.device = "cpu") -> ReferenceModel:
    """A :class:`ReferenceModel` from an exported file (a path or its bytes); loads with
    ``weights_only=True``, so nothing in the file is executed. The task is built by its registered name."""
    handle = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        document = torch.load(handle, map_location=map_location, weights_only=True)
    except Exception as error:  # noqa: BLE001 - torch raises many kinds on a foreign file
        raise ReferenceModelFormatError(f"not a reference-model file ({type(error).__name__}: {error})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT_NAME:
        raise ReferenceModelFormatError(f"not a {FORMAT_NAME} file")
    if document.get("version") != FORMAT_VERSION:
        raise ReferenceModelFormatError(f"unsupported reference-model version {document.get('version')!r}")
    shape = tuple(int(n) for n in document["input_shape"])
    model = get_task(document["task"]["name"]).build_model(shape, int(document["num_classes"]))
    model.load_state_dict(document["state_dict"])
    return ReferenceModel(model, shape, document["input_mean"], document["input_std"], document["task"])
