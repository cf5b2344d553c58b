"""Minibatch selection baselines (as compared in the AdaSelection paper): keep the top
``rate * b`` samples of each minibatch of ``b`` by a per-sample score; loss weight 1.

Each rule is also exposed as a *score* (for the top-k) and an *importance* (a softmax over the
batch, which AdaSelection mixes).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import ClassVar

import torch
from torch import Tensor

from sampler_space.features import gradient_norm_proxy
from sampler_space.strategies.base import BatchView, Kept, ParameterInfo, Strategy

RATE = ParameterInfo("rate", 0.3, "sampling rate gamma: fraction of each minibatch kept, in (0, 1]")


def kept_count(batch_size: int, rate: float) -> int:
    """``round(rate * b)``, at least 1."""
    return max(1, min(batch_size, int(round(rate * batch_size))))


def adaboost_weight(losses: Tensor) -> Tensor:
    """``0.5 * log((1 + l) / (1 - l))`` on losses scaled into [0, 1) by the batch maximum."""
    scaled = losses / (losses.max() + 1e-12) * (1.0 - 1e-6)
    return 0.5 * torch.log((1.0 + scaled) / (1.0 - scaled))


def _big_loss(view: BatchView) -> Tensor:
    return view.losses


def _small_loss(view: BatchView) -> Tensor:
    return -view.losses


def _grad_norm(view: BatchView) -> Tensor:
    return gradient_norm_proxy(view.logits, view.labels)


def _adaboost(view: BatchView) -> Tensor:
    return adaboost_weight(view.losses)


def _coreset_2(view: BatchView) -> Tensor:
    return -(view.losses - view.losses.mean()).abs()


def _coreset_1(view: BatchView) -> Tensor:
    # The importance counterpart of "half biggest, half smallest": distance from the median.
    return (view.losses - view.losses.median()).abs()


def _uniform(view: BatchView) -> Tensor:
    return torch.zeros_like(view.losses)


#: score of each rule; higher means "keep"; the softmax of a score is that rule's importance.
SCORES: dict[str, Callable[[BatchView], Tensor]] = {
    "big-loss": _big_loss,
    "small-loss": _small_loss,
    "grad-norm": _grad_norm,
    "adaboost": _adaboost,
    "coreset-1": _coreset_1,
    "coreset-2": _coreset_2,
    "uniform": _uniform,
}


def top_positions(scores: Tensor, count: int) -> Tensor:
    """Positions of the ``count`` largest scores (ties broken by position), int64."""
    return torch.topk(scores, count, sorted=False).indices


def coreset_1_positions(losses: Tensor, count: int) -> Tensor:
    """Half (rounded up) of ``count`` from the biggest losses, the rest from the smallest."""
    big = math.ceil(count / 2)
    order = torch.argsort(losses, descending=True)
    return torch.cat([order[:big], order[len(order) - (count - big):]]) if count > big else order[:big]


class SelectionBaseline(Strategy):
    """Keep the top ``rate * b`` of each minibatch by :data:`SCORES` ``[rule]``."""

    scores_batch: ClassVar[bool] = True
    accumulate: ClassVar[bool] = True
    parameters: ClassVar[tuple[ParameterInfo, ...]] = (RATE,)
    rule: ClassVar[str] = "big-loss"

    def __init__(self, rate: float = 0.3) -> None:
        super().__init__()
        if not 0.0 < rate <= 1.0:
            raise ValueError(f"rate must be in (0, 1], got {rate}")
        self.rate = rate

    def select(self, batch: BatchView) -> Kept:
        count = kept_count(len(batch.indices), self.rate)
        if self.rule == "coreset-1":
            positions = coreset_1_positions(batch.losses, count)
        else:
            positions = top_positions(SCORES[self.rule](batch), count)
        return Kept(positions, torch.ones(len(positions), device=positions.device))


class BigLoss(SelectionBaseline):
    """Keep the rate*b samples with the biggest loss."""

    name = rule = "big-loss"
    description = "keep the rate*b samples with the biggest loss"


class SmallLoss(SelectionBaseline):
    """Keep the rate*b samples with the smallest loss."""

    name = rule = "small-loss"
    description = "keep the rate*b samples with the smallest loss"


class GradNorm(SelectionBaseline):
    """Keep the rate*b samples with the largest output-layer gradient norm ||softmax - onehot||."""

    name = rule = "grad-norm"
    description = "keep the rate*b samples with the largest output-layer gradient norm"


class AdaBoost(SelectionBaseline):
    """Keep the rate*b samples with the largest AdaBoost weight."""

    name = rule = "adaboost"
    description = "keep the rate*b samples with the largest AdaBoost weight 0.5*log((1+l)/(1-l))"


class Coreset1(SelectionBaseline):
    """Coreset approximation 1: half from the biggest, half from the smallest losses."""

    name = rule = "coreset-1"
    description = "keep half from the biggest and half from the smallest losses"


class Coreset2(SelectionBaseline):
    """Coreset approximation 2: the samples whose loss is closest to the batch mean."""

    name = rule = "coreset-2"
    description = "keep the rate*b samples whose loss is closest to the batch mean"

BASELINES: tuple[type[SelectionBaseline], ...] = (BigLoss, SmallLoss, GradNorm, AdaBoost, Coreset1, Coreset2)
