"""The one training loop: minibatch SGD over tensors that live on the training device.

Data are moved to the device once; each epoch's indices are drawn there (a permutation for
uniform sampling, i.i.d. draws from a weight vector otherwise) and minibatches are gathered by
indexing, so a GPU trial never round-trips through the host or a ``DataLoader``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from sampler_space.drawing import IndexDrawer
from workers.tasks.definition import Recipe


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN or infinite loss; the trial is recorded as failed."""


@dataclass(frozen=True)
class EpochResult:
    """One epoch's outcome. ``seconds`` is wall-clock time of training plus validation."""

    epoch: int
    train_loss: float
    val_accuracy: float
    seconds: float
    samples: int


def pick_device(want_gpu: bool) -> torch.device:
    """CUDA when asked for and available, the CPU otherwise."""
    return torch.device("cuda") if want_gpu and torch.cuda.is_available() else torch.device("cpu")


def seeded_generator(seed: int, device: torch.device) -> torch.Generator:
    """A generator on ``device`` seeded with ``seed`` (index draws stay on the device)."""
    generator = torch.Generator(device=device)
    generator.manual_seed(seed)
    return generator


class EpochIndices:
    """Which training indices an epoch visits, in order.

    Args:
        num_samples: training set size N; every epoch yields N indices.
        weights: ``None`` for uniform sampling without replacement (a permutation), or ``(N,)``
            non-negative sampling weights on the training device for i.i.d. draws with
            replacement (no 1/p re-weighting: the sampler changes which data the model sees).
    """

    def __init__(self, num_samples: int, weights: Tensor | None = None) -> None:
        self.num_samples = num_samples
        self._drawer = None if weights is None else IndexDrawer(weights)
        if self._drawer is not None and len(self._drawer) != num_samples:
            raise ValueError(f"got {len(self._drawer)} weights for {num_samples} training samples")

    def draw(self, generator: torch.Generator) -> Tensor:
        if self._drawer is None:
            return torch.randperm(self.num_samples, device=generator.device, generator=generator)
        return self._drawer.draw(self.num_samples, generator)


def make_optimizer(model: nn.Module, recipe: Recipe, lr: float) -> torch.optim.Optimizer:
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=lr, momentum=recipe.momentum, nesterov=True,
                               weight_decay=recipe.weight_decay)
    return torch.optim.Adam(model.parameters(), lr=lr, weight_decay=recipe.weight_decay)


@torch.no_grad()
def accuracy(model: nn.Module, x: Tensor, y: Tensor, batch_size: int = 4096) -> float:
    """Top-1 accuracy in [0, 1] of ``model`` on ``(x, y)`` already on the model's device."""
    was_training = model.training
    model.eval()
    correct = 0
    for start in range(0, len(y), batch_size):
        logits = model(x[start : start + batch_size])
        correct += int((logits.argmax(dim=1) == y[start : start + batch_size]).sum())
    model.train(was_training)
    return correct / max(len(y), 1)


def train(
    model: nn.Module,
    x_train: Tensor,
    y_train: Tensor,
    x_val: Tensor,
    y_val: Tensor,
    *,
    epochs: int,
    lr: float,
    recipe: Recipe,
    seed: int,
    weights: Tensor | None = None,
    on_epoch: Callable[[EpochResult], None] | None = None,
) -> list[EpochResult]:
    """Train ``model`` in place for ``epochs`` epochs with a cosine schedule from ``lr`` to 0.

    All tensors must already be on the model's device. ``weights`` (``(N,)``, optional) switches
    from uniform to weighted sampling (see :class:`EpochIndices`). ``on_epoch`` is called after
    each epoch's validation. Raises :class:`NonFiniteLossError` on a NaN/inf loss.
    """
    device = next(model.parameters()).device
    torch.manual_seed(seed)
    generator = seeded_generator(seed, device)
    indices = EpochIndices(len(y_train), weights)
    optimizer = make_optimizer(model, recipe, lr)
    steps_per_epoch = math.ceil(len(y_train) / recipe.batch_size)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: 0.5 * (1 + math.cos(math.pi * min(step, epochs * steps_per_epoch) / (epochs * steps_per_epoch)))
    )
    loss_function = nn.CrossEntropyLoss()
    results = []
    model.train()
    for epoch in range(1, epochs + 1):
        started = time.perf_counter()
        order = indices.draw(generator)
        loss_sum = torch.zeros((), device=device)
        for start in range(0, len(order), recipe.batch_size):
            batch = order[start : start + recipe.batch_size]
            loss = loss_function(model(x_train[batch]), y_train[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            loss_sum += loss.detach() * len(batch)
        # One host sync per epoch, not per step.
        train_loss = float(loss_sum) / len(order)
        if not math.isfinite(train_loss):
            raise NonFiniteLossError(f"non-finite training loss ({train_loss}) in epoch {epoch}")
        result = EpochResult(epoch, train_loss, accuracy(model, x_val, y_val), time.perf_counter() - started, len(order))
        results.append(result)
        if on_epoch is not None:
            on_epoch(result)
    return results
