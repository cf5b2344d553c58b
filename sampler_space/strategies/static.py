"""Static per-sample weights (the Swift Sampler's): each epoch draws N indices i.i.d. from them."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor

from sampler_space.drawing import IndexDrawer
from sampler_space.strategies.base import Strategy


class StaticWeights(Strategy):
    """Weighted sampling with replacement from fixed weights ``(N,)``; loss weight 1 (the sampler
    changes which data the model sees, not the loss scale)."""

    name: ClassVar[str] = "static-weights"
    description: ClassVar[str] = "i.i.d. draws from fixed per-sample weights (an exported Swift Sampler)"

    def __init__(self, weights: Tensor) -> None:
        super().__init__()
        self.drawer = IndexDrawer(weights)

    def epoch_order(self, generator: torch.Generator) -> Tensor:
        return self.drawer.draw(len(self.drawer), generator)
