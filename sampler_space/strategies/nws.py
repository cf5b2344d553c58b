"""NWS: Nadaraya-Watson sketch of per-sample losses, used to skip samples before the forward pass.

Keys are fixed per-sample vectors (``StrategyContext.keys``, e.g. the flattened input or a
reference model's penultimate features), hashed once by signed random projections into ``rows``
hash tables of ``2^bits`` buckets each. Two ``rows x 2^bits`` arrays hold, per bucket, the sum of
inserted losses and the count of insertions. The estimate for sample i is the mean over rows of
the loss sums in i's buckets divided by the mean of the counts (0 where the counts are 0), which
converges to the Nadaraya-Watson estimate with the SRP collision-probability kernel as rows grow.

After ``warmup`` steps of training on everything, each candidate is accepted with probability
``p_i = min(1, c * est_i / mean(est))`` (``c`` chosen so that the mean of ``p`` is ``rate``),
floored at ``min_probability`` so that every sample stays reachable, and trained with loss
weight ``1 / p_i`` (so the weighted minibatch loss is unbiased). True losses of trained samples
are inserted every step at first, then with exponentially decaying frequency. Everything is
vectorised on the training device.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor

from sampler_space.strategies.base import BatchView, Kept, ParameterInfo, Strategy, StrategyContext
from sampler_space.strategies.selection import RATE


def srp_hashes(keys: Tensor, projection: Tensor, rows: int, bits: int) -> Tensor:
    """Bucket of every key in every row: ``(N, rows)`` int64 in ``[0, 2^bits)``.

    ``keys (N, D)``, ``projection (rows * bits, D)``; bit k of row r is ``sign(<P[r*bits+k], key>) > 0``.
    """
    signs = (keys.float() @ projection.T > 0).view(len(keys), rows, bits).long()
    powers = 2 ** torch.arange(bits, device=keys.device)
    return (signs * powers).sum(dim=2)


class LossSketch:
    """The two ``rows x 2^bits`` arrays (loss sums and counts) over fixed hashes.

    Args:
        hashes: ``(N, rows)`` bucket indices from :func:`srp_hashes`.
        bits: bits per row.
    """

    def __init__(self, hashes: Tensor, bits: int) -> None:
        self.hashes = hashes
        self.rows = hashes.shape[1]
        self.width = 2**bits
        self.loss_sums = torch.zeros(self.rows, self.width, device=hashes.device)
        self.counts = torch.zeros(self.rows, self.width, device=hashes.device)
        self._row_offsets = torch.arange(self.rows, device=hashes.device) * self.width

    def _flat(self, indices: Tensor) -> Tensor:
        return (self.hashes[indices] + self._row_offsets).flatten()

    def insert(self, indices: Tensor, losses: Tensor) -> None:
        """Add each sample's loss (and a count of one) to its bucket in every row."""
        flat = self._flat(indices)
        self.loss_sums.view(-1).index_add_(0, flat, losses.float().repeat_interleave(self.rows))
        self.counts.view(-1).index_add_(0, flat, torch.ones_like(flat, dtype=torch.float32))

    def estimate(self, indices: Tensor) -> Tensor:
        """``(B,)`` estimated losses: mean-over-rows loss sum / mean-over-rows count; 0 where no count."""
        flat = self._flat(indices).view(len(indices), self.rows)
        sums = self.loss_sums.view(-1)[flat].mean(dim=1)
        counts = self.counts.view(-1)[flat].mean(dim=1)
        return torch.where(counts > 0, sums / counts.clamp_min(1e-12), torch.zeros_like(sums))


def acceptance_probabilities(estimates: Tensor, rate: float, floor: float) -> Tensor:
    """``p_i = clamp(c * est_i / mean(est), floor, 1)`` with ``c`` such that ``mean(p) = rate``.

    ``mean(p)`` is piecewise linear and non-decreasing in ``c`` with breakpoints where a sample
    leaves the floor (``c = floor / r_i``) or reaches the cap (``c = 1 / r_i``); it is evaluated at
    all ``2B`` breakpoints at once and ``c`` is interpolated exactly, with no host round trip. When
    every estimate is 0 (nothing sketched yet) every sample is accepted with probability ``rate``.
    """
    mean = estimates.mean()
    relative = estimates / mean.clamp_min(1e-12)
    unreachable = torch.full_like(relative, 1e30)
    breakpoints = torch.cat([torch.where(relative > 0, floor / relative, unreachable),
                             torch.where(relative > 0, 1.0 / relative, unreachable)]).sort().values
    kept_mean = (breakpoints[:, None] * relative[None, :]).clamp(floor, 1.0).mean(dim=1)
    target = torch.full((1,), rate, dtype=kept_mean.dtype, device=kept_mean.device)
    high = torch.searchsorted(kept_mean, target).clamp(1, len(breakpoints) - 1)
    low = high - 1
    slope = (kept_mean[high] - kept_mean[low]).clamp_min(1e-12)
    c = breakpoints[low] + (rate - kept_mean[low]) * (breakpoints[high] - breakpoints[low]) / slope
    c = torch.where(kept_mean[-1:] < rate, breakpoints[-1:], c)
    probabilities = (c * relative).clamp(floor, 1.0)
    return torch.where(mean > 0, probabilities, torch.full_like(probabilities, rate))


class NWS(Strategy):
    """Nadaraya-Watson sketch sampling."""

    name: ClassVar[str] = "nws"
    description: ClassVar[str] = "skip samples whose sketched loss is low; 1/p loss weights; no forward for skipped samples"
    needs_keys: ClassVar[bool] = True
    parameters: ClassVar[tuple[ParameterInfo, ...]] = (
        RATE,
        ParameterInfo("rows", 200, "R, hash tables of the sketch"),
        ParameterInfo("bits", 10, "K, signed-random-projection bits per row (2^K buckets)"),
        ParameterInfo("warmup", 100, "steps that train on everything and only fill the sketch"),
        ParameterInfo("min_probability", 0.05, "floor of the acceptance probability (keeps samples reachable)"),
        ParameterInfo("decay_period", 200, "after warm-up, the insertion interval doubles every this many steps"),
        ParameterInfo("max_interval", 16, "longest interval between sketch insertions, in steps"),
        ParameterInfo("keys", "input",
                      "sample keys: 'input' (flattened input) or 'reference' (shared-weights model's penultimate features)"),
    )

    def __init__(self, rate: float = 0.3, rows: int = 200, bits: int = 10, warmup: int = 100,
                 min_probability: float = 0.05, decay_period: int = 200, max_interval: int = 16,
                 keys: str = "input") -> None:
        super().__init__()
        if not 0.0 < rate <= 1.0:
            raise ValueError(f"rate must be in (0, 1], got {rate}")
        if rows < 1 or not 1 <= bits <= 24:
            raise ValueError("rows must be >= 1 and bits in [1, 24]")
        if not 0.0 < min_probability <= rate:
            raise ValueError("min_probability must be in (0, rate]")
        if keys not in ("input", "reference"):
            raise ValueError("keys must be 'input' or 'reference'")
        self.rate, self.rows, self.bits, self.warmup = rate, rows, bits, warmup
        self.min_probability, self.decay_period, self.max_interval = min_probability, decay_period, max_interval
        self.keys = keys
        self.sketch: LossSketch | None = None
        self.insertions = 0

    def setup(self, context: StrategyContext) -> None:
        super().setup(context)
        if context.keys is None:
            raise ValueError("NWS needs per-sample keys (StrategyContext.keys)")
        keys = context.keys.to(context.device).flatten(1).float()
        projection = torch.randn(self.rows * self.bits, keys.shape[1], device=context.device, generator=context.generator)
        self.sketch = LossSketch(srp_hashes(keys, projection, self.rows, self.bits), self.bits)

    def _inserts_now(self) -> bool:
        since = self.step - self.warmup
        if since < self.decay_period:
            return True
        interval = min(self.max_interval, 2 ** (since // self.decay_period))
        return since % interval == 0

    def admit(self, indices: Tensor) -> Kept | None:
        if self.step < self.warmup:
            return None
        assert self.sketch is not None and self.context is not None
        probabilities = acceptance_probabilities(self.sketch.estimate(indices), self.rate, self.min_probability)
        accepted = torch.rand(len(indices), device=indices.device, generator=self.context.generator) < probabilities
        positions = accepted.nonzero().flatten()
        return Kept(positions, 1.0 / probabilities[positions])

    def observe(self, batch: BatchView) -> None:
        if self._inserts_now():
            assert self.sketch is not None
            self.sketch.insert(batch.indices, batch.losses)
            self.insertions += 1

    def state(self) -> dict[str, Any]:
        return {"insertions": self.insertions}
