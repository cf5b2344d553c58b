"""A sampler's weight for every row of a task's training split as it ships, the order in which a
user holds their own data (``weights.npy``)."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from sampler_space.features import features_from_model
from sampler_space.swift import SwiftSampler
from workers.reference import build_model
from workers.tasks import TaskData, TaskSpec


def training_row_weights(spec: TaskSpec, data: TaskData, seed: int, state: dict[str, Tensor],
                         sampler: SwiftSampler) -> np.ndarray:
    """Float64 ``(data.raw_train_size,)``: the sampler's (unnormalised) weight of each row of the
    training split as the task ships it (for ``arrays``: the rows of your ``x_train``).

    Rows of the job's ``x_train`` and of the validation rows carved out of it get the weight of
    their features under the reference model (shared weights ``state``), with the labels the job
    used (noise included). Rows the job's long-tail subset dropped get 0.
    """
    if data.train_rows is None or data.raw_train_size is None:
        raise ValueError("data must come from load_task_data (it carries the row mapping)")
    model = build_model(spec, data, seed, torch.device("cpu"))
    model.load_state_dict(state)
    weights = np.zeros(data.raw_train_size, dtype=np.float64)
    splits = [(data.train_rows, data.x_train, data.y_train)]
    if data.val_rows is not None:
        splits.append((data.val_rows, data.x_val, data.y_val))
    for rows, x, y in splits:
        features = features_from_model(model, x, y, sampler.features)
        weights[rows] = sampler.weights(features).double().cpu().numpy()
    return weights
