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

from sampler_space.strategies.base import BatchView, Strategy, StrategyContext
from sampler_space.strategies.static import StaticWeights
from workers.tasks.definition import Recipe


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN or infinite loss; the trial is recorded as failed."""


@dataclass(frozen=True)
class EpochResult:
    """One epoch's outcome. ``seconds`` is wall-clock time of training plus validation;
    ``samples`` were trained on (forward and backward), ``forward_samples`` counts every forward
    pass (scoring passes of selection strategies included), ``steps`` optimiser steps."""

    epoch: int
    train_loss: float
    val_accuracy: float
    seconds: float
    samples: int
    forward_samples: int = 0
    steps: int = 0


def pick_device(want_gpu: bool) -> torch.device:
    """CUDA when asked for and available, the CPU otherwise."""
    return torch.device("cuda") if want_gpu and torch.cuda.is_available() else torch.device("cpu")


def seeded_generator(seed: int, device: torch.device) -> torch.Generator:
    """A generator on ``device`` seeded with ``seed`` (index draws stay on the device)."""
    generator = torch.Generator(device=device)
    generator.manual_seed(seed)
    return generator


def make_optimizer(model: nn.Module, recipe: Recipe, lr: float) -> torch.optim.Optimizer:
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=lr, momentum=recipe.momentum, nesterov=recipe.momentum > 0,
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


def _cosine(lr: float, progress: float) -> float:
    return 0.5 * lr * (1.0 + math.cos(math.pi * min(max(progress, 0.0), 1.0)))


class _Accumulator:
    """Collects kept samples until a full batch (AdaSelection's rule for selection strategies)."""

    def __init__(self, batch_size: int) -> None:
        self.batch_size = batch_size
        self.indices: list[Tensor] = []
        self.weights: list[Tensor] = []
        self.count = 0

    def add(self, indices: Tensor, weights: Tensor) -> tuple[Tensor, Tensor] | None:
        self.indices.append(indices)
        self.weights.append(weights)
        self.count += len(indices)
        if self.count < self.batch_size:
            return None
        indices, weights = torch.cat(self.indices), torch.cat(self.weights)
        self.indices, self.weights = [indices[self.batch_size:]], [weights[self.batch_size:]]
        self.count = len(self.indices[0])
        return indices[: self.batch_size], weights[: self.batch_size]


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
    strategy: Strategy | None = None,
    keys: Tensor | None = None,
    on_epoch: Callable[[EpochResult], None] | None = None,
) -> list[EpochResult]:
    """Train ``model`` in place for ``epochs`` epochs; the learning rate follows a cosine from
    ``lr`` to 0 over the run (by fraction of data walked, so selective strategies that take fewer
    steps get the same schedule).

    All tensors must already be on the model's device. Sampling: ``strategy`` (see
    :mod:`sampler_space.strategies`), or ``weights`` ``(N,)`` for i.i.d. draws from fixed weights
    (an exported Swift Sampler), or uniform permutations. ``keys`` ``(N, D)`` are the fixed
    per-sample keys a strategy may ask for. ``on_epoch`` is called after each epoch's validation.
    Raises :class:`NonFiniteLossError` on a NaN/inf loss.
    """
    if strategy is not None and weights is not None:
        raise ValueError("pass either weights or a strategy, not both")
    if weights is not None:
        if len(weights) != len(y_train):
            raise ValueError(f"got {len(weights)} weights for {len(y_train)} training samples")
        strategy = StaticWeights(weights)
    strategy = strategy or Strategy()
    device = next(model.parameters()).device
    torch.manual_seed(seed)
    generator = seeded_generator(seed, device)
    if strategy.needs_keys and keys is None:
        keys = x_train.flatten(1)
    strategy.setup(StrategyContext(len(y_train), int(y_train.max()) + 1, recipe.batch_size, device, generator, keys))
    observes = type(strategy).observe is not Strategy.observe
    accumulator = _Accumulator(recipe.batch_size) if strategy.accumulate else None
    optimizer = make_optimizer(model, recipe, lr)
    num_samples, batch_size = len(y_train), recipe.batch_size
    results = []
    model.train()
    for epoch in range(1, epochs + 1):
        started = time.perf_counter()
        strategy.begin_epoch(epoch)
        order = strategy.epoch_order(generator)
        loss_sum = torch.zeros((), device=device)
        trained = forwarded = steps = 0
        for start in range(0, num_samples, batch_size):
            batch = strategy.candidates(order[start : start + batch_size])
            batch_weights = torch.ones(len(batch), device=device)
            admitted = strategy.admit(batch)
            if admitted is not None:
                batch, batch_weights = batch[admitted.positions], admitted.weights
            if strategy.scores_batch and len(batch):
                with torch.no_grad():
                    logits = model(x_train[batch])
                    view = BatchView(batch, y_train[batch], logits,
                                     nn.functional.cross_entropy(logits, y_train[batch], reduction="none"))
                forwarded += len(batch)
                chosen = strategy.select(view)
                batch, batch_weights = batch[chosen.positions], batch_weights[chosen.positions] * chosen.weights
            if accumulator is not None:
                full = accumulator.add(batch, batch_weights)
                if full is None:
                    continue
                batch, batch_weights = full
            if len(batch) == 0:
                continue
            for group in optimizer.param_groups:
                group["lr"] = _cosine(lr, (epoch - 1 + start / num_samples) / epochs)
            logits = model(x_train[batch])
            losses = nn.functional.cross_entropy(logits, y_train[batch], reduction="none")
            loss = (losses * batch_weights).mean() if admitted is not None or strategy.scores_batch else losses.mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach() * len(batch)
            trained += len(batch)
            forwarded += len(batch)
            steps += 1
            strategy.step += 1
            if observes:
                strategy.observe(BatchView(batch, y_train[batch], logits.detach(), losses.detach()))
        strategy.end_epoch(epoch)
        # One host sync per epoch, not per step.
        train_loss = float(loss_sum) / max(trained, 1)
        if not math.isfinite(train_loss):
            raise NonFiniteLossError(f"non-finite training loss ({train_loss}) in epoch {epoch}")
        result = EpochResult(epoch, train_loss, accuracy(model, x_val, y_val), time.perf_counter() - started,
                             trained, forwarded, steps)
        results.append(result)
        if on_epoch is not None:
            on_epoch(result)
    return results
