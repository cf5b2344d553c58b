"""AdaSelection: an adaptive mixture of the selection baselines.

Per method m, importances ``alpha^m = softmax(score^m)`` over the batch; the loss that method
focuses on ``l_t^m = sum_i alpha_i^m l_i``; method weights
``w_t^m = w_{t-1}^m * exp(beta * (l_{t-1}^m - l_t^m) / l_{t-1}^m)``, renormalised; optional
curriculum reward ``r_t(i) ∝ exp(-t^gamma_cl * l_i / sum_j l_j^2)``; score
``s_i = r_t(i) * sum_m w^m alpha_i^m``; keep the top ``rate * b``; selected samples accumulate to
a full batch before one optimiser step.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch

from sampler_space.strategies.base import BatchView, Kept, ParameterInfo, Strategy
from sampler_space.strategies.selection import RATE, SCORES, kept_count, top_positions

DEFAULT_CANDIDATES: tuple[str, ...] = ("big-loss", "small-loss", "grad-norm", "adaboost", "coreset-1", "coreset-2",
                                       "uniform")


class AdaSelection(Strategy):
    """Adaptive mixture of selection rules."""

    name: ClassVar[str] = "adaselection"
    description: ClassVar[str] = "adaptive mixture of the selection baselines, with optional curriculum reward"
    scores_batch: ClassVar[bool] = True
    accumulate: ClassVar[bool] = True
    parameters: ClassVar[tuple[ParameterInfo, ...]] = (
        RATE,
        ParameterInfo("candidates", list(DEFAULT_CANDIDATES), "methods mixed (any subset of the baselines and uniform)"),
        ParameterInfo("beta", 0.5, "method-weight step size, in [-1, 1]"),
        ParameterInfo("curriculum", False, "multiply scores by the curriculum reward"),
        ParameterInfo("gamma_cl", 0.1, "curriculum exponent: reward exp(-t^gamma_cl * l_i / sum_j l_j^2)"),
    )

    def __init__(self, rate: float = 0.3, candidates: Sequence[str] = DEFAULT_CANDIDATES, beta: float = 0.5,
                 curriculum: bool = False, gamma_cl: float = 0.1) -> None:
        super().__init__()
        unknown = [c for c in candidates if c not in SCORES]
        if unknown or not candidates:
            raise ValueError(f"unknown candidate method {unknown[0] if unknown else None!r}; known: {', '.join(SCORES)}")
        if not -1.0 <= beta <= 1.0:
            raise ValueError(f"beta must be in [-1, 1], got {beta}")
        if not 0.0 < rate <= 1.0:
            raise ValueError(f"rate must be in (0, 1], got {rate}")
        self.rate, self.methods, self.beta = rate, tuple(candidates), beta
        self.curriculum, self.gamma_cl = curriculum, gamma_cl
        self.method_weights: torch.Tensor | None = None
        self._previous_focus: torch.Tensor | None = None

    def importances(self, batch: BatchView) -> torch.Tensor:
        """``(M, B)`` softmax importances of each candidate method."""
        return torch.stack([SCORES[m](batch).float().softmax(dim=0) for m in self.methods])

    def select(self, batch: BatchView) -> Kept:
        alpha = self.importances(batch)
        losses = batch.losses.float()
        focus = alpha @ losses
        if self.method_weights is None:
            self.method_weights = torch.full((len(self.methods),), 1.0 / len(self.methods), device=losses.device)
        elif self._previous_focus is not None:
            change = (self._previous_focus - focus) / self._previous_focus.clamp_min(1e-12)
            updated = self.method_weights * torch.exp(self.beta * change)
            self.method_weights = updated / updated.sum()
        self._previous_focus = focus
        scores = self.method_weights @ alpha
        if self.curriculum:
            reward = torch.exp(-((self.step + 1) ** self.gamma_cl) * losses / (losses.square().sum() + 1e-12))
            scores = scores * reward / reward.sum()
        positions = top_positions(scores, kept_count(len(losses), self.rate))
        return Kept(positions, torch.ones(len(positions), device=positions.device))

    def state(self) -> dict[str, Any]:
        if self.method_weights is None:
            return {}
        return {"method_weights": dict(zip(self.methods, self.method_weights.tolist()))}
