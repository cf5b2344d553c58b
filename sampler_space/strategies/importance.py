"""Loss-gradient importance / adaptive sampling ("Online Importance Sampling for Stochastic
Gradient Optimization", arXiv 2311.14468).

Epoch 1 is plain uniform SGD that records ``q_i = ||softmax(z_i) - onehot(y_i)||_2`` for every
sample at no extra cost. From epoch 2 each step draws ``B`` indices with replacement from
``p = q / sum q`` and trains them with loss weights ``1 / (N p_i)`` (importance sampling, ``-is``:
an unbiased estimate of the full-data gradient) or 1 (adaptive sampling, ``-as``); only the
drawn entries are updated, ``q_i <- alpha q_i + (1 - alpha) ||softmax - onehot||``; at the end of
each epoch ``q <- q + eps * mean(q)`` so every sample stays reachable.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor

from sampler_space.drawing import IndexDrawer
from sampler_space.features import gradient_norm_proxy
from sampler_space.strategies.base import BatchView, Kept, ParameterInfo, Strategy, StrategyContext


class LossGradientSampling(Strategy):
    """Persistent per-sample importance from the output-layer gradient norm."""

    name: ClassVar[str] = "loss-gradient-is"
    description: ClassVar[str] = "draw from p ∝ ||softmax - onehot|| (momentum-updated), 1/(N p) loss weights"
    importance_weights: ClassVar[bool] = True
    parameters: ClassVar[tuple[ParameterInfo, ...]] = (
        ParameterInfo("alpha", 0.1, "momentum of the importance update, one of 0, 0.1, 0.2, 0.3 in the paper"),
        ParameterInfo("epsilon", 1e-3, "added to q each epoch, as a fraction of mean(q)"),
    )

    def __init__(self, alpha: float = 0.1, epsilon: float = 1e-3) -> None:
        super().__init__()
        if not 0.0 <= alpha < 1.0:
            raise ValueError(f"alpha must be in [0, 1), got {alpha}")
        if epsilon <= 0:
            raise ValueError("epsilon must be positive")
        self.alpha, self.epsilon = alpha, epsilon
        self.importance: Tensor | None = None

    def setup(self, context: StrategyContext) -> None:
        super().setup(context)
        self.importance = torch.zeros(context.num_samples, device=context.device)

    def probabilities(self) -> Tensor:
        """``(N,)`` current sampling distribution ``q / sum q``."""
        assert self.importance is not None
        return self.importance / self.importance.sum()

    def candidates(self, permuted: Tensor) -> Tensor:
        if self.epoch <= 1:
            return permuted
        assert self.importance is not None and self.context is not None
        return IndexDrawer(self.importance).draw(len(permuted), self.context.generator)

    def admit(self, indices: Tensor) -> Kept | None:
        if self.epoch <= 1 or not self.importance_weights:
            return None
        assert self.context is not None
        p = self.probabilities()[indices]
        return Kept(torch.arange(len(indices), device=indices.device), 1.0 / (self.context.num_samples * p))

    def observe(self, batch: BatchView) -> None:
        assert self.importance is not None
        fresh = gradient_norm_proxy(batch.logits, batch.labels)
        if self.epoch <= 1:
            self.importance[batch.indices] = fresh
        else:
            self.importance[batch.indices] = self.alpha * self.importance[batch.indices] + (1 - self.alpha) * fresh

    def end_epoch(self, epoch: int) -> None:
        assert self.importance is not None
        self.importance += self.epsilon * self.importance.mean().clamp_min(1e-12)

    def state(self) -> dict[str, Any]:
        if self.importance is None:
            return {}
        return {"mean_importance": float(self.importance.mean())}


class LossGradientAdaptive(LossGradientSampling):
    """Adaptive sampling: the same draws, loss weight 1 (biased toward hard samples)."""

    name: ClassVar[str] = "loss-gradient-as"
    description: ClassVar[str] = "draw from p ∝ ||softmax - onehot|| (momentum-updated), loss weight 1"
    importance_weights: ClassVar[bool] = False
