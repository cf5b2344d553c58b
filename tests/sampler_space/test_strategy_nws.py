"""NWS: the sketch converges to the Nadaraya-Watson estimate with the SRP kernel; acceptance
probabilities hit the sampling rate; empty buckets estimate 0, not NaN."""

from __future__ import annotations

import math

import pytest
import torch

from sampler_space.strategies.nws import LossSketch, acceptance_probabilities, srp_hashes


def exact_nadaraya_watson(queries: torch.Tensor, keys: torch.Tensor, losses: torch.Tensor, bits: int) -> torch.Tensor:
    """sum_j k(q, j) l_j / sum_j k(q, j) with the SRP collision kernel k = (1 - angle / pi)^bits."""
    cosine = torch.nn.functional.normalize(queries, dim=1) @ torch.nn.functional.normalize(keys, dim=1).T
    kernel = (1 - torch.arccos(cosine.clamp(-1, 1)) / math.pi) ** bits
    return (kernel @ losses) / kernel.sum(dim=1)


def sketch_error(rows: int, bits: int, keys: torch.Tensor, losses: torch.Tensor, seed: int) -> float:
    generator = torch.Generator().manual_seed(seed)
    projection = torch.randn(rows * bits, keys.shape[1], generator=generator)
    sketch = LossSketch(srp_hashes(keys, projection, rows, bits), bits)
    sketch.insert(torch.arange(len(keys)), losses)
    estimate = sketch.estimate(torch.arange(len(keys)))
    return float((estimate - exact_nadaraya_watson(keys, keys, losses, bits)).abs().mean())


def test_sketch_estimate_converges_to_the_exact_nadaraya_watson_estimate() -> None:
    generator = torch.Generator().manual_seed(0)
    keys = torch.randn(300, 6, generator=generator)
    losses = (keys[:, 0] > 0).float() * 2 + torch.rand(300, generator=generator)
    errors = {rows: sum(sketch_error(rows, 4, keys, losses, seed) for seed in range(3)) / 3 for rows in (16, 64, 256)}
    # 1/sqrt(R): each 4x in rows should roughly halve the error.
    assert errors[64] < 0.75 * errors[16]
    assert errors[256] < 0.75 * errors[64]
    assert errors[256] < 0.35 * errors[16]


def test_buckets_never_filled_estimate_zero_not_nan() -> None:
    keys = torch.randn(10, 4)
    sketch = LossSketch(srp_hashes(keys, torch.randn(8 * 3, 4), 8, 3), 3)
    estimate = sketch.estimate(torch.arange(10))
    assert torch.equal(estimate, torch.zeros(10))


def test_hashes_are_in_range_and_deterministic() -> None:
    keys, projection = torch.randn(50, 5), torch.randn(20 * 10, 5)
    hashes = srp_hashes(keys, projection, 20, 10)
    assert hashes.shape == (50, 20) and int(hashes.min()) >= 0 and int(hashes.max()) < 2**10
    assert torch.equal(hashes, srp_hashes(keys, projection, 20, 10))


@pytest.mark.parametrize("rate", [0.1, 0.3, 0.6])
def test_acceptance_probabilities_average_to_the_rate(rate: float) -> None:
    estimates = torch.rand(1000, generator=torch.Generator().manual_seed(1)) ** 3
    p = acceptance_probabilities(estimates, rate, floor=0.01)
    assert abs(float(p.mean()) - rate) < 1e-3
    assert float(p.min()) >= 0.01 - 1e-7 and float(p.max()) <= 1.0
    order = torch.argsort(estimates)
    assert (p[order].diff() >= -1e-7).all()


def test_all_zero_estimates_accept_at_the_rate() -> None:
    assert torch.allclose(acceptance_probabilities(torch.zeros(5), 0.3, 0.01), torch.full((5,), 0.3))


def test_acceptance_probabilities_are_proportional_to_the_estimates_below_the_cap() -> None:
    p = acceptance_probabilities(torch.tensor([1.0, 1.0, 2.0]), 0.5, floor=0.01)
    assert torch.allclose(p, torch.tensor([0.375, 0.375, 0.75]), atol=1e-6)
