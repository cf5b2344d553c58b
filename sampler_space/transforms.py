"""Transforms T_n that map a raw feature to [0, 1] so that equal intervals carry equal importance.

A fitted transform is a monotone piecewise-linear function stored as breakpoints (strictly
increasing raw feature values) and values (non-decreasing, in [0, 1]); it can be applied to
samples it was not fitted on and serialised into the sampler JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from sampler_space.interpolation import piecewise_linear

TransformKind = Literal["cdf", "cgf"]
TRANSFORM_KINDS: tuple[str, ...] = ("cdf", "cgf")

#: Number of quantile breakpoints kept by default (257 = 256 equal-mass intervals).
DEFAULT_BREAKPOINTS = 257


@dataclass(frozen=True)
class FittedTransform:
    """A monotone map from raw feature values to [0, 1].

    Attributes:
        kind: ``"cdf"`` (empirical CDF, rank / N) or ``"cgf"`` (cumulative gradient function).
        breakpoints: ``(K,)`` float64 CPU tensor, strictly increasing, ``K >= 2``.
        values: ``(K,)`` float64 CPU tensor, non-decreasing, in [0, 1].
    """

    kind: str
    breakpoints: Tensor
    values: Tensor

    def __call__(self, feature: Tensor) -> Tensor:
        """Apply to raw values of any shape and device; returns float32 in [0, 1], same shape."""
        return piecewise_linear(feature.double(), self.breakpoints, self.values).float()


def _cumulative_share(feature: Tensor, mass: Tensor, max_breakpoints: int) -> tuple[Tensor, Tensor]:
    """Breakpoints and values of ``v -> sum(mass[f <= v]) / sum(mass)`` at quantiles of ``f``."""
    order = torch.argsort(feature)
    sorted_feature = feature[order]
    cumulative = torch.cumsum(mass[order], dim=0)
    cumulative = cumulative / cumulative[-1]
    # Ties share one breakpoint whose value includes every tied sample (the "<=" in T's definition).
    unique, counts = torch.unique_consecutive(sorted_feature, return_counts=True)
    last_of_each = torch.cumsum(counts, dim=0) - 1
    values = cumulative[last_of_each]
    if unique.numel() > max_breakpoints:
        keep = torch.linspace(0, unique.numel() - 1, max_breakpoints, dtype=torch.float64)
        keep = torch.unique(keep.round().long())
        unique, values = unique[keep], values[keep]
    if unique.numel() == 1:
        # A constant feature carries no information: map everything to the middle of [0, 1].
        unique = torch.cat([unique - 0.5, unique + 0.5])
        values = torch.tensor([0.5, 0.5], dtype=torch.float64)
    return unique, values.clamp(0.0, 1.0)


def fit_transform(
    kind: str,
    feature: Tensor,
    gradient_proxy: Tensor | None = None,
    max_breakpoints: int = DEFAULT_BREAKPOINTS,
) -> FittedTransform:
    """Fit a transform on the training set's raw feature values.

    Args:
        kind: ``"cdf"`` or ``"cgf"``.
        feature: ``(N,)`` raw values of one feature over the training set, finite.
        gradient_proxy: ``(N,)`` non-negative ``||softmax - onehot||`` per sample; required for
            ``cgf``, ignored for ``cdf``. With all proxies equal, ``cgf`` equals ``cdf``.
        max_breakpoints: at most this many quantile breakpoints are kept (>= 2).

    Returns:
        A :class:`FittedTransform` on the CPU in float64.
    """
    if kind not in TRANSFORM_KINDS:
        raise ValueError(f"unknown transform kind {kind!r}; known: {', '.join(TRANSFORM_KINDS)}")
    if max_breakpoints < 2:
        raise ValueError("max_breakpoints must be at least 2")
    feature = feature.detach().double().cpu().flatten()
    if feature.numel() == 0 or not torch.isfinite(feature).all():
        raise ValueError("feature values must be a non-empty set of finite numbers")
    if kind == "cdf":
        mass = torch.ones_like(feature)
    else:
        if gradient_proxy is None:
            raise ValueError("the cgf transform needs the per-sample gradient proxy")
        mass = gradient_proxy.detach().double().cpu().flatten()
        if mass.shape != feature.shape or (mass < 0).any() or not torch.isfinite(mass).all():
            raise ValueError("gradient_proxy must be finite, non-negative and shaped like feature")
        if mass.sum() <= 0:
            mass = torch.ones_like(feature)
    breakpoints, values = _cumulative_share(feature, mass, max_breakpoints)
    return FittedTransform(kind=kind, breakpoints=breakpoints, values=values)
