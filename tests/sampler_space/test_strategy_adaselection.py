"""AdaSelection's method weights follow the rule w_t = w_{t-1} exp(beta (l_{t-1} - l_t) / l_{t-1})."""

from __future__ import annotations

import math

import torch

from sampler_space.strategies import BatchView
from sampler_space.strategies.adaselection import AdaSelection


def view(losses: list[float]) -> BatchView:
    tensor = torch.tensor(losses)
    return BatchView(torch.arange(len(losses)), torch.zeros(len(losses), dtype=torch.long),
                     torch.zeros(len(losses), 2), tensor)


def test_weight_moves_toward_the_method_whose_focused_loss_falls() -> None:
    strategy = AdaSelection(rate=0.5, candidates=["big-loss", "small-loss"], beta=1.0)
    # The large losses fall step after step while the small ones grow.
    for t in range(6):
        strategy.select(view([3.0 - 0.4 * t, 2.5 - 0.4 * t, 0.1 + 0.1 * t, 0.2 + 0.1 * t]))
    weights = dict(zip(strategy.methods, strategy.method_weights.tolist()))
    assert weights["big-loss"] > 0.7 > weights["small-loss"]


def test_negative_beta_moves_weight_the_other_way() -> None:
    strategy = AdaSelection(rate=0.5, candidates=["big-loss", "small-loss"], beta=-1.0)
    for t in range(6):
        strategy.select(view([3.0 - 0.4 * t, 2.5 - 0.4 * t, 0.1 + 0.1 * t, 0.2 + 0.1 * t]))
    weights = dict(zip(strategy.methods, strategy.method_weights.tolist()))
    assert weights["small-loss"] > weights["big-loss"]


def test_one_update_matches_the_formula() -> None:
    strategy = AdaSelection(rate=0.5, candidates=["big-loss", "uniform"], beta=0.5)
    first, second = [2.0, 1.0, 0.5, 0.5], [1.0, 1.0, 0.5, 0.5]
    strategy.select(view(first))
    strategy.select(view(second))

    def focus(losses: list[float], method: str) -> float:
        t = torch.tensor(losses)
        alpha = t.softmax(0) if method == "big-loss" else torch.full_like(t, 1 / len(t))
        return float(alpha @ t)

    raw = [0.5 * math.exp(0.5 * (focus(first, m) - focus(second, m)) / focus(first, m)) for m in ("big-loss", "uniform")]
    expected = [w / sum(raw) for w in raw]
    assert torch.allclose(strategy.method_weights, torch.tensor(expected), atol=1e-6)


def test_selection_keeps_rate_times_batch_and_is_led_by_the_mixture() -> None:
    strategy = AdaSelection(rate=0.25, candidates=["big-loss"], beta=0.5)
    kept = strategy.select(view([0.1, 3.0, 0.2, 0.3, 2.0, 0.1, 0.4, 0.5]))
    assert set(kept.positions.tolist()) == {1, 4}


def test_curriculum_reward_favours_small_losses_when_only_uniform_is_mixed() -> None:
    strategy = AdaSelection(rate=0.25, candidates=["uniform"], curriculum=True, gamma_cl=1.0)
    strategy.step = 10
    kept = strategy.select(view([0.1, 3.0, 0.2, 2.5, 2.0, 1.5, 1.4, 1.3]))
    assert set(kept.positions.tolist()) == {0, 2}
