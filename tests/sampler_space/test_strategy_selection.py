"""Selection baselines pick exactly what their rule says, and keep rate * b samples."""

from __future__ import annotations

import pytest
import torch

from sampler_space.strategies import BatchView, make_strategy
from sampler_space.strategies.selection import adaboost_weight, kept_count

LOSSES = torch.tensor([0.1, 2.0, 0.5, 1.5, 0.9, 0.3, 1.1, 0.7, 1.9, 0.2])


def hand_made_batch(losses: torch.Tensor = LOSSES) -> BatchView:
    labels = torch.zeros(len(losses), dtype=torch.long)
    # logits whose cross-entropy on label 0 equals the given loss: z = [0, a] with log(1 + e^a) = l
    a = torch.log(torch.expm1(losses))
    logits = torch.stack([torch.zeros_like(a), a], dim=1)
    return BatchView(torch.arange(100, 100 + len(losses)), labels, logits, losses)


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("big-loss", {1, 8, 3, 6}),
        ("small-loss", {0, 9, 5, 2}),
        ("adaboost", {1, 8, 3, 6}),
        ("grad-norm", {1, 8, 3, 6}),
        ("coreset-1", {1, 8, 0, 9}),
        ("coreset-2", {4, 6, 7, 2}),
    ],
)
def test_each_baseline_keeps_exactly_the_samples_its_rule_names(rule: str, expected: set[int]) -> None:
    kept = make_strategy(rule, {"rate": 0.4}).select(hand_made_batch())
    assert set(kept.positions.tolist()) == expected
    assert torch.equal(kept.weights, torch.ones(4))


def test_hand_made_logits_reproduce_the_intended_losses() -> None:
    view = hand_made_batch()
    recomputed = torch.nn.functional.cross_entropy(view.logits, view.labels, reduction="none")
    assert torch.allclose(recomputed, LOSSES, atol=1e-5)


@pytest.mark.parametrize("rate", [0.1, 0.25, 0.5, 1.0])
def test_kept_count_is_the_rounded_rate_of_the_batch(rate: float) -> None:
    assert kept_count(128, rate) == round(rate * 128)


def test_adaboost_weight_is_monotone_and_finite_on_the_largest_loss() -> None:
    weights = adaboost_weight(LOSSES)
    assert torch.isfinite(weights).all()
    assert torch.equal(torch.argsort(weights), torch.argsort(LOSSES))


def test_rate_outside_the_unit_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="rate"):
        make_strategy("big-loss", {"rate": 1.5})


def test_unknown_option_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match="no option 'gamma'"):
        make_strategy("big-loss", {"gamma": 0.3})
