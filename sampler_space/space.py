"""The search space of the Swift Sampler: the unit cube and its mapping to knot values.

One :class:`SamplerSpace` owns the parameter names and the encoding in both directions; nobody
else re-derives them. A point of the space is a dict ``{name: value}`` keyed by
:attr:`SamplerSpace.names` (what Ray Tune configs and stored trials hold) or a flat tensor in the
same order. The mapping to knots is the identity, feature-major: feature 0's ``S + 1`` knots
first, then feature 1's, and so on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

DEFAULT_FEATURES: tuple[str, ...] = ("loss", "entropy")
DEFAULT_SEGMENTS = 4
#: the knot value of the uniform sampler (any constant gives it; the cube's centre is chosen)
UNIFORM_KNOT = 0.5


class InvalidCandidateError(ValueError):
    """A point whose coordinates are missing, non-finite or outside [0, 1]."""


@dataclass(frozen=True)
class SamplerSpace:
    """``[0, 1]^(F * (S + 1))`` for ``F`` features with ``S`` segments each.

    Attributes:
        features: feature names, in knot-row order.
        segments: S, equal segments of each piecewise-linear function (``S + 1`` knots).
    """

    features: tuple[str, ...] = DEFAULT_FEATURES
    segments: int = DEFAULT_SEGMENTS

    def __post_init__(self) -> None:
        object.__setattr__(self, "features", tuple(self.features))
        if not self.features:
            raise ValueError("a sampler space needs at least one feature")
        if self.segments < 1:
            raise ValueError(f"segments must be >= 1, got {self.segments}")

    @property
    def names(self) -> list[str]:
        """Coordinate names, e.g. ``loss_k0 .. loss_k4, entropy_k0 .. entropy_k4``."""
        return [f"{feature}_k{k}" for feature in self.features for k in range(self.segments + 1)]

    @property
    def dimension(self) -> int:
        return len(self.features) * (self.segments + 1)

    def uniform_point(self) -> dict[str, float]:
        """The all-equal-knots point: the uniform sampler."""
        return {name: UNIFORM_KNOT for name in self.names}

    def decode(self, point: Mapping[str, Any]) -> Tensor:
        """Knots ``(F, S+1)`` float64 (CPU) from a point keyed by :attr:`names`; extra keys are ignored.

        Raises :class:`InvalidCandidateError` naming the coordinates that are missing, not finite or
        outside [0, 1]."""
        missing = [name for name in self.names if name not in point]
        if missing:
            raise InvalidCandidateError(f"trial config lacks {', '.join(missing)}")
        values = [float(point[name]) for name in self.names]
        bad = [name for name, v in zip(self.names, values) if not (math.isfinite(v) and 0.0 <= v <= 1.0)]
        if bad:
            raise InvalidCandidateError(f"knot values must be finite and in [0, 1]: {', '.join(bad)}")
        return torch.tensor(values, dtype=torch.float64).view(len(self.features), self.segments + 1)

    def decode_vector(self, vector: Sequence[float] | Tensor) -> Tensor:
        """Knots ``(F, S+1)`` float64 (CPU) from a flat ``(dimension,)`` point in :attr:`names` order."""
        vector = torch.as_tensor(vector, dtype=torch.float64).flatten().cpu()
        if vector.numel() != self.dimension:
            raise InvalidCandidateError(f"expected {self.dimension} coordinates, got {vector.numel()}")
        return self.decode(dict(zip(self.names, vector.tolist())))

    def encode(self, knots: Tensor) -> dict[str, float]:
        """The inverse of :meth:`decode`: ``(F, S+1)`` knots to a point keyed by :attr:`names`."""
        if tuple(knots.shape) != (len(self.features), self.segments + 1):
            raise InvalidCandidateError(f"knots must have shape ({len(self.features)}, {self.segments + 1}), "
                                        f"got {tuple(knots.shape)}")
        return dict(zip(self.names, (float(v) for v in knots.flatten().tolist())))

    @classmethod
    def of_knots(cls, features: Sequence[str], knots: Tensor) -> "SamplerSpace":
        """The space whose points have the shape of ``knots`` ``(F, S+1)``."""
        return cls(tuple(features), int(knots.shape[-1]) - 1)
