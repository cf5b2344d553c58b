"""Knot interpolation, weights, probabilities and the unit-cube encoding of the Swift Sampler."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sampler_space.interpolation import piecewise_linear
from sampler_space.swift import SwiftSampler, knot_function, parameter_names, weights_from_transformed
from sampler_space.transforms import fit_transform


def test_knot_function_hits_the_knots_and_is_linear_between() -> None:
    knots = torch.tensor([0.0, 1.0, 0.5, 0.25, 1.0])
    at_knots = knot_function(torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0]), knots)
    assert torch.allclose(at_knots, knots)
    assert float(knot_function(torch.tensor([0.125]), knots)) == pytest.approx(0.5)
    assert float(knot_function(torch.tensor([0.625]), knots)) == pytest.approx(0.375)


def test_piecewise_linear_matches_numpy_interp() -> None:
    generator = torch.Generator().manual_seed(3)
    xp = torch.sort(torch.rand(20, generator=generator, dtype=torch.float64)).values
    fp = torch.rand(20, generator=generator, dtype=torch.float64)
    x = torch.rand(1000, generator=generator, dtype=torch.float64) * 1.4 - 0.2
    assert np.allclose(piecewise_linear(x, xp, fp).numpy(), np.interp(x.numpy(), xp.numpy(), fp.numpy()))


def test_weights_are_the_product_over_features_plus_epsilon() -> None:
    transformed = torch.tensor([[0.0, 1.0], [0.5, 0.25]])
    knots = torch.tensor([[1.0, 1.0, 0.5, 0.0, 0.0], [0.2, 0.4, 0.6, 0.8, 1.0]])
    weights = weights_from_transformed(transformed, knots, epsilon=0.01)
    assert weights.tolist() == pytest.approx([1.0 * 1.0 + 0.01, 0.5 * 0.4 + 0.01])


def sampler(point) -> SwiftSampler:
    generator = torch.Generator().manual_seed(5)
    raw = torch.rand(300, 2, generator=generator)
    proxy = torch.rand(300, generator=generator)
    transforms = [fit_transform("cgf", raw[:, n], proxy) for n in range(2)]
    return SwiftSampler.from_unit_cube(point, transforms)


def test_all_equal_knots_give_exactly_uniform_probabilities() -> None:
    probabilities = sampler([0.6] * 10).probabilities(torch.rand(300, 2))
    assert torch.allclose(probabilities, torch.full((300,), 1 / 300))


def test_probabilities_sum_to_one_and_follow_the_knots() -> None:
    raw = torch.rand(300, 2)
    keep_low = sampler([1, 1, 0, 0, 0, 1, 1, 1, 1, 1]).probabilities(raw)
    assert float(keep_low.sum()) == pytest.approx(1.0, abs=1e-5)
    low, high = raw[:, 0] < 0.2, raw[:, 0] > 0.8
    assert float(keep_low[low].mean()) > 20 * float(keep_low[high].mean())


def test_unit_cube_round_trip_is_feature_major_like_parameter_names() -> None:
    point = torch.linspace(0, 1, 10, dtype=torch.float64)
    swift = sampler(point)
    assert torch.equal(swift.to_unit_cube(), point)
    assert swift.knots[1, 0] == point[5]
    assert parameter_names()[:6] == ["loss_k0", "loss_k1", "loss_k2", "loss_k3", "loss_k4", "entropy_k0"]


@pytest.mark.parametrize("point", [[0.5] * 9, [1.5] + [0.5] * 9, [float("nan")] + [0.5] * 9])
def test_invalid_points_are_refused(point) -> None:
    with pytest.raises(ValueError):
        sampler(point)
