"""Drawing sample indices from a weight vector, on the weights' device.

``torch.multinomial`` refuses more than 2^24 categories; inverse-CDF sampling (a float64 cumulative
sum and ``searchsorted`` over uniform draws) has no such limit, is fully vectorised and stays on
the device of the weights (GPU in a GPU trial).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor
from torch.utils.data import Sampler


class IndexDrawer:
    """Draws indices i.i.d. with replacement with probability proportional to ``weights``.

    Args:
        weights: ``(N,)`` non-negative finite weights, not all zero, on any device. The
            cumulative sum is computed once here (float64) and reused by every :meth:`draw`.
    """

    def __init__(self, weights: Tensor) -> None:
        if weights.ndim != 1 or weights.numel() == 0:
            raise ValueError("weights must be a non-empty 1-d tensor")
        if not torch.isfinite(weights).all() or (weights < 0).any():
            raise ValueError("weights must be finite and non-negative")
        self._cumulative = torch.cumsum(weights.double(), dim=0)
        self._total = self._cumulative[-1]
        if self._total <= 0:
            raise ValueError("weights sum to zero")

    @property
    def device(self) -> torch.device:
        return self._cumulative.device

    def __len__(self) -> int:
        return self._cumulative.numel()

    def draw(self, count: int, generator: torch.Generator | None = None) -> Tensor:
        """``(count,)`` int64 indices on :attr:`device`.

        ``generator`` must live on the same device (``torch.Generator(device=...)``).
        """
        u = torch.rand(count, dtype=torch.float64, device=self.device, generator=generator)
        # Indices whose weight is 0 own an empty CDF interval, so right-sided search never hits them.
        index = torch.searchsorted(self._cumulative, u * self._total, right=True)
        return index.clamp_(max=len(self) - 1)


def draw_indices(weights: Tensor, count: int, generator: torch.Generator | None = None) -> Tensor:
    """Draw ``count`` indices with replacement, ``P(i) ∝ weights[i]``; see :class:`IndexDrawer`."""
    return IndexDrawer(weights).draw(count, generator)


class WeightedIndexSampler(Sampler[int]):
    """A ``torch.utils.data.Sampler`` yielding ``num_samples`` indices drawn from ``weights``.

    Unlike ``torch.utils.data.WeightedRandomSampler`` it works beyond 2^24 samples. Drawing
    happens on the CPU, in blocks of ``num_samples`` per epoch.

    Args:
        weights: ``(N,)`` non-negative sampling weights (e.g. ``SwiftSampler.weights(features)``).
        num_samples: indices per epoch; defaults to ``N`` (the sampler changes which data the
            model sees, not how much).
        generator: optional CPU generator for reproducible epochs.
    """

    def __init__(self, weights: Tensor, num_samples: int | None = None,
                 generator: torch.Generator | None = None) -> None:
        self._drawer = IndexDrawer(weights.detach().cpu())
        self.num_samples = len(self._drawer) if num_samples is None else int(num_samples)
        if self.num_samples <= 0:
            raise ValueError("num_samples must be positive")
        self.generator = generator

    def __len__(self) -> int:
        return self.num_samples

    def __iter__(self) -> Iterator[int]:
        yield from self._drawer.draw(self.num_samples, self.generator).tolist()
