"""Online sampling strategies that run inside the one training loop: the selection baselines,
AdaSelection, NWS and loss-gradient importance sampling."""

from sampler_space.strategies.base import BatchView, Kept, Strategy, StrategyContext
from sampler_space.strategies.registry import (
    STRATEGIES,
    UnknownStrategyError,
    describe_strategies,
    make_strategy,
    strategy_class,
)

__all__ = ["STRATEGIES", "BatchView", "Kept", "Strategy", "StrategyContext", "UnknownStrategyError",
           "describe_strategies", "make_strategy", "strategy_class"]
