"""Strategies by registered name, with their parameters and defaults."""

from __future__ import annotations

from typing import Any

from sampler_space.strategies.adaselection import AdaSelection
from sampler_space.strategies.base import Strategy
from sampler_space.strategies.importance import LossGradientAdaptive, LossGradientSampling
from sampler_space.strategies.nws import NWS
from sampler_space.strategies.selection import BASELINES

STRATEGIES: dict[str, type[Strategy]] = {
    cls.name: cls for cls in (Strategy, *BASELINES, AdaSelection, NWS, LossGradientSampling, LossGradientAdaptive)
}


class UnknownStrategyError(KeyError):
    """No strategy registered under that name."""

    def __str__(self) -> str:
        return str(self.args[0])


def strategy_class(name: str) -> type[Strategy]:
    try:
        return STRATEGIES[name]
    except KeyError:
        raise UnknownStrategyError(f"no strategy {name!r}; known: {', '.join(STRATEGIES)}") from None


def make_strategy(name: str, options: dict[str, Any] | None = None) -> Strategy:
    """Instantiate ``name`` with ``options``; unknown options raise ``ValueError`` naming them."""
    cls = strategy_class(name)
    options = dict(options or {})
    known = {p.name for p in cls.parameters}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ValueError(f"strategy {name!r} has no option {unknown[0]!r}; options: {', '.join(sorted(known)) or 'none'}")
    return cls(**options)


def describe_strategies() -> list[dict[str, Any]]:
    """Every strategy with its description and parameters (name, default, description)."""
    return [{"name": cls.name, "description": cls.description,
             "parameters": [{"name": p.name, "default": p.default, "description": p.description} for p in cls.parameters]}
            for cls in STRATEGIES.values()]
