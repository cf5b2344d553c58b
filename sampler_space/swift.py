"""The Swift Sampler: features -> transforms -> piecewise-linear knots -> sampling probabilities.

For sample i with features f_n(i):  w(i) = prod_n H_n(T_n(f_n(i))) + epsilon,
p(i) = w(i) / sum_j w(j), where H_n is piecewise linear on [0, 1] with ``segments`` equal
segments (``segments + 1`` knot values in [0, 1]). All-equal knots give the uniform sampler.
The search space is the unit cube [0, 1]^(len(features) * (segments + 1)), identity-mapped to
the knot values, feature-major (feature 0's knots first).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from sampler_space.features import check_feature_names
from sampler_space.interpolation import piecewise_linear
from sampler_space.space import DEFAULT_FEATURES, DEFAULT_SEGMENTS, SamplerSpace
from sampler_space.transforms import FittedTransform

DEFAULT_EPSILON = 1e-3


def parameter_names(features: Sequence[str] = DEFAULT_FEATURES, segments: int = DEFAULT_SEGMENTS) -> list[str]:
    """Names of the unit-cube coordinates (:attr:`SamplerSpace.names`)."""
    return SamplerSpace(tuple(features), segments).names


def knot_function(u: Tensor, knots: Tensor) -> Tensor:
    """H(u): piecewise linear through ``knots`` ``(S+1,)`` at ``0, 1/S, ..., 1``; ``u`` in [0, 1]."""
    positions = torch.linspace(0.0, 1.0, knots.numel(), dtype=knots.dtype, device=knots.device)
    return piecewise_linear(u, positions, knots)


def weights_from_transformed(transformed: Tensor, knots: Tensor, epsilon: float) -> Tensor:
    """Sampling weights ``(N,)`` from transformed features ``(N, F)`` in [0, 1] and knots ``(F, S+1)``.

    Stays on ``transformed``'s device; returns float32.
    """
    knots = knots.to(device=transformed.device, dtype=torch.float32)
    weight = torch.ones(transformed.shape[0], device=transformed.device, dtype=torch.float32)
    for n in range(knots.shape[0]):
        weight = weight * knot_function(transformed[:, n].float(), knots[n])
    return weight + epsilon


def transform_features(transforms: Sequence[FittedTransform], raw_features: Tensor) -> Tensor:
    """Raw features ``(N, F)`` -> transformed ``(N, F)`` float32 in [0, 1], same device; one
    fitted transform per column."""
    if raw_features.ndim != 2 or raw_features.shape[1] != len(transforms):
        raise ValueError(f"expected raw features of shape (N, {len(transforms)})")
    return torch.stack([t(raw_features[:, n]) for n, t in enumerate(transforms)], dim=1)


def probabilities_from_weights(weights: Tensor) -> Tensor:
    """Normalise non-negative finite weights ``(N,)`` to probabilities summing to one."""
    if not torch.isfinite(weights).all() or (weights < 0).any():
        raise ValueError("sampling weights must be finite and non-negative")
    total = weights.sum()
    if total <= 0:
        raise ValueError("sampling weights sum to zero")
    return weights / total


@dataclass(frozen=True)
class SwiftSampler:
    """A fitted, parameterised Swift Sampler.

    Attributes:
        features: feature names (see :data:`sampler_space.features.FEATURE_NAMES`).
        transforms: one fitted transform per feature.
        knots: ``(F, S+1)`` float64 CPU tensor in [0, 1].
        epsilon: added to every weight so that no sample is lost for good.
        source: provenance (job, trial, task, metric, value, created_at), free-form.
    """

    features: tuple[str, ...]
    transforms: tuple[FittedTransform, ...]
    knots: Tensor
    epsilon: float = DEFAULT_EPSILON
    source: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_feature_names(self.features)
        if len(self.transforms) != len(self.features):
            raise ValueError("one transform per feature is required")
        if self.knots.ndim != 2 or self.knots.shape[0] != len(self.features) or self.knots.shape[1] < 2:
            raise ValueError(f"knots must be (features={len(self.features)}, segments+1 >= 2)")
        if not torch.isfinite(self.knots).all() or (self.knots < 0).any() or (self.knots > 1).any():
            raise ValueError("knot values must be finite and in [0, 1]")
        if not (self.epsilon > 0 and self.epsilon == self.epsilon and self.epsilon < float("inf")):
            raise ValueError("epsilon must be a positive finite number")

    @property
    def segments(self) -> int:
        return self.knots.shape[1] - 1

    @property
    def space(self) -> SamplerSpace:
        return SamplerSpace(self.features, self.segments)

    @classmethod
    def from_unit_cube(
        cls, point: Sequence[float] | Tensor, transforms: Sequence[FittedTransform],
        features: Sequence[str] = DEFAULT_FEATURES, epsilon: float = DEFAULT_EPSILON,
        source: dict[str, Any] | None = None,
    ) -> "SwiftSampler":
        """Decode a flat point of [0, 1]^(F*(S+1)) (feature-major) into a sampler."""
        point = torch.as_tensor(point, dtype=torch.float64).flatten()
        if point.numel() % len(features):
            raise ValueError(f"{point.numel()} coordinates do not split over {len(features)} features")
        space = SamplerSpace(tuple(features), point.numel() // len(features) - 1)
        return cls(tuple(features), tuple(transforms), space.decode_vector(point), epsilon, dict(source or {}))

    @classmethod
    def from_point(
        cls, point: dict[str, Any], space: SamplerSpace, transforms: Sequence[FittedTransform],
        epsilon: float = DEFAULT_EPSILON, source: dict[str, Any] | None = None,
    ) -> "SwiftSampler":
        """Decode a point keyed by ``space.names`` (a trial config) into a sampler."""
        return cls(space.features, tuple(transforms), space.decode(point), epsilon, dict(source or {}))

    def to_unit_cube(self) -> Tensor:
        """The inverse of :meth:`from_unit_cube`: ``(F*(S+1),)`` float64."""
        return self.knots.flatten().clone()

    def transform(self, raw_features: Tensor) -> Tensor:
        """Raw features ``(N, F)`` -> transformed ``(N, F)`` float32 in [0, 1], same device."""
        return transform_features(self.transforms, raw_features)

    def weights(self, raw_features: Tensor) -> Tensor:
        """Unnormalised weights ``(N,)`` float32 on the features' device."""
        return weights_from_transformed(self.transform(raw_features), self.knots, self.epsilon)

    def probabilities(self, raw_features: Tensor) -> Tensor:
        """Sampling probabilities ``(N,)`` float32 summing to one, on the features' device."""
        return probabilities_from_weights(self.weights(raw_features))
