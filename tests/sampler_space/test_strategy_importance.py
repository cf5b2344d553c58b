"""Loss-gradient importance sampling: 1/(N p) weights make the minibatch gradient unbiased."""

from __future__ import annotations

import torch

from sampler_space.strategies import StrategyContext, make_strategy


def full_and_sampled_gradients(name: str, draws: int = 3000, batch: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    n, d, c = 40, 5, 3
    x, y = torch.randn(n, d, generator=generator), torch.randint(0, c, (n,), generator=generator)
    weight = torch.randn(c, d, generator=generator, requires_grad=True)

    def gradient(indices: torch.Tensor, loss_weights: torch.Tensor) -> torch.Tensor:
        losses = torch.nn.functional.cross_entropy(x[indices] @ weight.T, y[indices], reduction="none")
        (grad,) = torch.autograd.grad((losses * loss_weights).mean(), weight)
        return grad

    full = gradient(torch.arange(n), torch.ones(n))
    strategy = make_strategy(name, {"alpha": 0.0})
    strategy.setup(StrategyContext(n, c, batch, torch.device("cpu"), torch.Generator().manual_seed(1)))
    strategy.importance = torch.rand(n, generator=generator) + 0.05  # some non-uniform importance
    strategy.begin_epoch(2)
    total = torch.zeros_like(full)
    for _ in range(draws):
        indices = strategy.candidates(torch.arange(batch))
        kept = strategy.admit(indices)
        loss_weights = torch.ones(batch) if kept is None else kept.weights
        total += gradient(indices, loss_weights)
    return full, total / draws


def test_importance_weights_give_an_unbiased_gradient() -> None:
    full, sampled = full_and_sampled_gradients("loss-gradient-is")
    assert (sampled - full).norm() / full.norm() < 0.05


def test_adaptive_weights_are_biased_which_is_why_is_reweights() -> None:
    full, sampled = full_and_sampled_gradients("loss-gradient-as")
    assert (sampled - full).norm() / full.norm() > 0.1


def test_draws_follow_the_importance_after_the_first_epoch() -> None:
    strategy = make_strategy("loss-gradient-is")
    strategy.setup(StrategyContext(4, 2, 4, torch.device("cpu"), torch.Generator().manual_seed(2)))
    strategy.importance = torch.tensor([0.0, 1.0, 0.0, 3.0])
    strategy.begin_epoch(2)
    drawn = torch.cat([strategy.candidates(torch.arange(4)) for _ in range(2000)])
    counts = torch.bincount(drawn, minlength=4).float() / len(drawn)
    assert counts[0] == 0 and counts[2] == 0 and abs(float(counts[3]) - 0.75) < 0.02


def test_first_epoch_is_uniform_and_records_the_gradient_norm_of_every_visited_sample() -> None:
    from sampler_space.strategies import BatchView

    strategy = make_strategy("loss-gradient-is")
    strategy.setup(StrategyContext(3, 2, 3, torch.device("cpu"), torch.Generator()))
    strategy.begin_epoch(1)
    permuted = torch.tensor([2, 0, 1])
    assert torch.equal(strategy.candidates(permuted), permuted) and strategy.admit(permuted) is None
    logits = torch.tensor([[4.0, 0.0], [0.0, 0.0], [0.0, 4.0]])
    strategy.observe(BatchView(permuted, torch.zeros(3, dtype=torch.long), logits, torch.zeros(3)))
    expected = (logits.softmax(1) - torch.tensor([[1.0, 0.0]])).norm(dim=1)
    assert torch.allclose(strategy.importance[permuted], expected)


def test_epsilon_keeps_every_sample_reachable() -> None:
    strategy = make_strategy("loss-gradient-is", {"epsilon": 1e-3})
    strategy.setup(StrategyContext(3, 2, 3, torch.device("cpu"), torch.Generator()))
    strategy.importance = torch.tensor([0.0, 2.0, 4.0])
    strategy.end_epoch(1)
    assert float(strategy.importance[0]) > 0
