"""Transforms: monotone maps into [0, 1]; cgf weighs samples by their gradient proxy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sampler_space.transforms import fit_transform


@pytest.fixture
def feature_and_proxy() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return torch.randn(2000, generator=generator).exp(), torch.rand(2000, generator=generator)


@pytest.mark.parametrize("kind", ["cdf", "cgf"])
def test_fitted_transform_is_monotone_and_in_the_unit_interval(kind: str, feature_and_proxy) -> None:
    feature, proxy = feature_and_proxy
    transform = fit_transform(kind, feature, proxy)
    assert (transform.breakpoints.diff() > 0).all() and (transform.values.diff() >= 0).all()
    probe = torch.linspace(float(feature.min()) - 1, float(feature.max()) + 1, 5000)
    mapped = transform(probe)
    assert (mapped.diff() >= 0).all() and float(mapped.min()) >= 0 and float(mapped.max()) <= 1
    assert float(transform(feature.max().unsqueeze(0))) == pytest.approx(1.0)


def test_cgf_equals_cdf_when_all_gradient_proxies_are_equal(feature_and_proxy) -> None:
    feature, _ = feature_and_proxy
    cdf = fit_transform("cdf", feature)
    cgf = fit_transform("cgf", feature, torch.full_like(feature, 0.37))
    assert torch.equal(cdf.breakpoints, cgf.breakpoints)
    assert torch.allclose(cdf.values, cgf.values, atol=1e-12)


def test_cgf_is_the_cumulative_share_of_gradient_mass() -> None:
    feature = torch.tensor([1.0, 2.0, 3.0, 4.0])
    proxy = torch.tensor([1.0, 1.0, 1.0, 5.0])
    transform = fit_transform("cgf", feature, proxy)
    assert transform.values.tolist() == pytest.approx([1 / 8, 2 / 8, 3 / 8, 1.0])
    # Between breakpoints the map is linear.
    assert float(transform(torch.tensor([3.5]))) == pytest.approx((3 / 8 + 1) / 2)


def test_cdf_is_rank_over_n_with_ties_counted_together() -> None:
    transform = fit_transform("cdf", torch.tensor([5.0, 1.0, 5.0, 2.0]))
    assert transform.breakpoints.tolist() == [1.0, 2.0, 5.0]
    assert transform.values.tolist() == pytest.approx([0.25, 0.5, 1.0])


def test_breakpoints_are_capped_at_quantiles(feature_and_proxy) -> None:
    feature, proxy = feature_and_proxy
    transform = fit_transform("cgf", feature, proxy, max_breakpoints=33)
    assert len(transform.breakpoints) == 33
    assert float(transform.breakpoints[0]) == float(feature.min())
    assert float(transform.breakpoints[-1]) == float(feature.max())


def test_values_outside_the_fitted_range_take_the_end_values() -> None:
    transform = fit_transform("cdf", torch.tensor([1.0, 2.0, 3.0, 4.0]))
    assert transform(torch.tensor([-100.0, 100.0])).tolist() == pytest.approx([0.25, 1.0])


def test_matches_numpy_interp_on_new_samples(feature_and_proxy) -> None:
    feature, proxy = feature_and_proxy
    transform = fit_transform("cgf", feature, proxy)
    fresh = torch.randn(500).exp()
    expected = np.interp(fresh.double().numpy(), transform.breakpoints.numpy(), transform.values.numpy())
    assert np.allclose(transform(fresh).numpy(), expected, atol=1e-6)


def test_constant_feature_maps_to_the_middle() -> None:
    transform = fit_transform("cgf", torch.full((10,), 3.0), torch.rand(10))
    assert transform(torch.tensor([3.0, 0.0, 9.0])).tolist() == [0.5, 0.5, 0.5]


@pytest.mark.parametrize(
    ("kind", "feature", "proxy", "message"),
    [
        ("cdf", torch.tensor([1.0, float("nan")]), None, "finite"),
        ("cgf", torch.tensor([1.0, 2.0]), None, "gradient proxy"),
        ("cgf", torch.tensor([1.0, 2.0]), torch.tensor([1.0, -1.0]), "non-negative"),
        ("rank", torch.tensor([1.0, 2.0]), None, "unknown transform"),
        ("cdf", torch.tensor([]), None, "non-empty"),
    ],
    ids=["nan-feature", "cgf-without-proxy", "negative-proxy", "unknown-kind", "empty"],
)
def test_bad_inputs_are_refused(kind, feature, proxy, message) -> None:
    with pytest.raises(ValueError, match=message):
        fit_transform(kind, feature, proxy)
