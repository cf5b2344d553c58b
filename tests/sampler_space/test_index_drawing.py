"""Index drawing: the right distribution, beyond torch.multinomial's 2^24 limit, on the weights' device."""

from __future__ import annotations

import pytest
import torch
from scipy.stats import chisquare
from torch.utils.data import DataLoader, TensorDataset

from sampler_space.drawing import IndexDrawer, WeightedIndexSampler, draw_indices


def test_draws_follow_the_probabilities_chi_square() -> None:
    weights = torch.tensor([5.0, 1, 0, 3, 2, 8, 1, 1, 4, 0.5, 2, 2, 6, 1, 3, 0.25, 1, 7, 2, 1])
    draws = draw_indices(weights, 200_000, torch.Generator().manual_seed(0))
    counts = torch.bincount(draws, minlength=20)
    assert counts[2] == 0
    nonzero = weights > 0
    expected = weights[nonzero] / weights.sum() * len(draws)
    assert chisquare(counts[nonzero].numpy(), expected.numpy()).pvalue > 1e-3


def test_works_beyond_the_multinomial_category_limit() -> None:
    size = 2**24 + 10
    weights = torch.zeros(size)
    weights[[2**24 + 3, 2**24 + 9]] = torch.tensor([1.0, 3.0])
    with pytest.raises(RuntimeError):
        torch.multinomial(weights, 1)
    draws = draw_indices(weights, 4000, torch.Generator().manual_seed(1))
    assert set(draws.unique().tolist()) == {2**24 + 3, 2**24 + 9}
    assert abs(float((draws == 2**24 + 9).float().mean()) - 0.75) < 0.03


def test_draws_are_int64_on_the_weights_device_and_reproducible() -> None:
    weights = torch.rand(100)
    first = draw_indices(weights, 50, torch.Generator().manual_seed(7))
    second = draw_indices(weights, 50, torch.Generator().manual_seed(7))
    assert first.dtype == torch.int64 and first.device == weights.device and torch.equal(first, second)


@pytest.mark.parametrize("weights", [torch.tensor([1.0, -1.0]), torch.tensor([1.0, float("nan")]), torch.zeros(3),
                                     torch.tensor([]), torch.ones(2, 2)],
                         ids=["negative", "nan", "all-zero", "empty", "two-dimensional"])
def test_invalid_weights_are_refused(weights: torch.Tensor) -> None:
    with pytest.raises(ValueError):
        IndexDrawer(weights)


def test_weighted_index_sampler_plugs_into_a_dataloader() -> None:
    weights = torch.tensor([0.0, 1.0, 0.0, 1.0, 2.0])
    dataset = TensorDataset(torch.arange(5))
    sampler = WeightedIndexSampler(weights, num_samples=300, generator=torch.Generator().manual_seed(0))
    seen = torch.cat([batch for (batch,) in DataLoader(dataset, batch_size=32, sampler=sampler)])
    assert len(sampler) == 300 and len(seen) == 300
    assert set(seen.tolist()) <= {1, 3, 4}
    assert float((seen == 4).float().mean()) == pytest.approx(0.5, abs=0.08)
