"""GP-UCB searcher: Sobol start, distinct suggestions under pending trials, idempotence,
save/restore, and that it actually optimises."""

from __future__ import annotations

import math

import pytest
import torch

from service.searchers import SUGGESTION_KEY, GpUcbSearcher

NAMES = [f"x{i}" for i in range(10)]


def objective(config: dict) -> float:
    """A smooth 10-d test function with its maximum 0 at x = 0.3 everywhere."""
    return -sum((config[name] - 0.3) ** 2 for name in NAMES)


def point(config: dict) -> torch.Tensor:
    return torch.tensor([config[name] for name in NAMES], dtype=torch.float64)


def run_sequential(searcher: GpUcbSearcher, count: int, start: int = 0) -> list[dict]:
    configs = []
    for t in range(start, start + count):
        config = searcher.suggest(f"t{t}")
        searcher.on_trial_complete(f"t{t}", {"objective": objective(config)})
        configs.append(config)
    return configs


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def test_first_points_are_sobol_then_gp() -> None:
    searcher = GpUcbSearcher(NAMES, n_initial=4, seed=1)
    sources = [c[SUGGESTION_KEY] for c in run_sequential(searcher, 6)]
    assert sources == ["sobol"] * 4 + ["gp-ucb"] * 2


def test_suggestions_lie_in_the_unit_cube() -> None:
    searcher = GpUcbSearcher(NAMES, n_initial=3, seed=2)
    for config in run_sequential(searcher, 6):
        assert all(0.0 <= config[name] <= 1.0 for name in NAMES)


def test_concurrent_suggestions_are_distinct_under_pending_trials() -> None:
    searcher = GpUcbSearcher(NAMES, n_initial=5, seed=3)
    run_sequential(searcher, 8)
    pending = [searcher.suggest(f"p{k}") for k in range(3)]
    assert all(c[SUGGESTION_KEY] == "gp-ucb" for c in pending)
    for a in range(3):
        for b in range(a + 1, 3):
            assert (point(pending[a]) - point(pending[b])).abs().max() > 1e-3


def test_asking_again_with_the_same_trial_id_returns_the_same_point() -> None:
    searcher = GpUcbSearcher(NAMES, n_initial=3, seed=4)
    run_sequential(searcher, 4)
    first = searcher.suggest("again")
    assert searcher.suggest("again") == first
    assert searcher.suggest("other") != first


def test_failed_and_non_finite_trials_are_not_observations() -> None:
    searcher = GpUcbSearcher(NAMES, n_initial=3, seed=5)
    searcher.suggest("a")
    searcher.suggest("b")
    searcher.suggest("c")
    searcher.on_trial_complete("a", None, error=True)
    searcher.on_trial_complete("b", {"objective": math.nan})
    searcher.on_trial_complete("c", {"objective": 0.5})
    assert searcher.num_observations == 1


def test_restored_searcher_continues_exactly_where_the_original_was(tmp_path) -> None:
    original = GpUcbSearcher(NAMES, n_initial=4, seed=6)
    run_sequential(original, 7)
    pending = original.suggest("running")
    original.save(str(tmp_path / "searcher.pkl"))

    restored = GpUcbSearcher(NAMES, seed=999)
    restored.restore(str(tmp_path / "searcher.pkl"))
    assert restored.num_observations == 7
    assert restored.suggest("running") == pending
    assert restored.suggest("next") == original.suggest("next")


def test_requeued_point_is_suggested_first() -> None:
    searcher = GpUcbSearcher(NAMES, n_initial=3, seed=7)
    searcher.requeue({**{name: 0.5 for name in NAMES}, SUGGESTION_KEY: "uniform"})
    config = searcher.suggest("first")
    assert config[SUGGESTION_KEY] == "uniform" and all(config[name] == 0.5 for name in NAMES)


def test_gp_ucb_beats_its_own_sobol_start_on_a_smooth_function() -> None:
    searcher = GpUcbSearcher(NAMES, n_initial=8, seed=8)
    configs = run_sequential(searcher, 24)
    sobol_best = max(objective(c) for c in configs[:8])
    gp_best = max(objective(c) for c in configs[8:])
    assert gp_best > sobol_best + 0.1


def test_added_evaluated_points_train_the_gp() -> None:
    searcher = GpUcbSearcher(NAMES, n_initial=2, seed=9)
    for k in range(6):
        config = {name: (k + 1) / 8 for name in NAMES}
        searcher.add_evaluated_point(config, objective(config))
    searcher.skip_initial_points(2)
    assert searcher.suggest("fresh")[SUGGESTION_KEY] == "gp-ucb"


def test_the_posterior_mean_shrinks_a_lucky_observation_towards_its_neighbours() -> None:
    import torch

    from service.searchers.gp_ucb import posterior_mean

    generator = torch.Generator().manual_seed(0)
    x = torch.rand(40, 2, generator=generator, dtype=torch.float64)
    y = 0.6 + 0.1 * x[:, :1] + 0.01 * torch.randn(40, 1, generator=generator, dtype=torch.float64)
    y[7] += 0.08  # one noisy observation far above the smooth trend
    means = posterior_mean(x, y)
    assert means.shape == (40,) and means[7] < y[7, 0] - 0.02
    assert int(torch.argmax(y)) == 7 and int(torch.argmax(means)) != 7


def test_lookahead_prepares_each_suggestion_from_the_state_when_the_previous_was_handed_out() -> None:
    import copy

    ahead = GpUcbSearcher(NAMES, n_initial=4, seed=8, lookahead=True)
    run_sequential(ahead, 5)
    ahead.suggest("a")
    # What the prepared point must equal: a synchronous searcher in the state right after "a" left.
    reference = GpUcbSearcher(NAMES, n_initial=4, seed=8)
    reference.set_state(copy.deepcopy(ahead.get_state()))
    ahead.on_trial_complete("a", {"objective": -0.1})  # arrives before the next suggestion is asked for
    used = ahead.prepared_used
    prepared = ahead.suggest("b")
    assert ahead.prepared_used == used + 1 and prepared[SUGGESTION_KEY] == "gp-ucb"
    assert prepared == reference.suggest("b")
    assert len(ahead.wait_seconds) == 7 and ahead.num_observations == 6


def test_a_lookahead_searcher_still_pickles_and_restores(tmp_path) -> None:
    import pickle

    ahead = GpUcbSearcher(NAMES, n_initial=3, seed=9, lookahead=True)
    run_sequential(ahead, 4)
    clone = pickle.loads(pickle.dumps(ahead))
    assert clone.num_observations == 4 and clone._prepared == []
    assert clone.suggest("next")[SUGGESTION_KEY] == "gp-ucb"


def test_a_deeper_lookahead_serves_a_burst_from_proposals_chained_on_each_other() -> None:
    import copy

    ahead = GpUcbSearcher(NAMES, n_initial=4, seed=8, lookahead=True, lookahead_depth=2)
    run_sequential(ahead, 5)
    ahead.suggest("a")  # hands out the queue's head and refills the queue to two
    state = copy.deepcopy(ahead.get_state())
    thread, head = ahead._prepared[0]
    thread.join()
    head_point, _ = head["proposal"]
    # The queue's second proposal: the state right after "a" left, with the head's point pending
    # and the counters the head left.
    state["pending"]["_prepared_0"] = dict(zip(NAMES, head_point.tolist()))
    snapshot = head["snapshot"]
    state["sobol_drawn"], state["gp_suggestions"] = snapshot._sobol_drawn, snapshot._gp_suggestions
    state["hyperparameters"], state["fallbacks"] = snapshot._hyperparameters, snapshot.fallbacks
    reference = GpUcbSearcher(NAMES, n_initial=4, seed=8)
    reference.set_state(state)
    expected_second, _ = reference._propose()

    ahead.on_trial_complete("a", {"objective": -0.1})  # arrives before the burst of two calls
    used = ahead.prepared_used
    first, second = ahead.suggest("b"), ahead.suggest("c")
    assert ahead.prepared_used == used + 2 and first[SUGGESTION_KEY] == second[SUGGESTION_KEY] == "gp-ucb"
    assert torch.allclose(point(first), head_point) and torch.allclose(point(second), expected_second)
    assert point(first).sub(point(second)).abs().max() > 1e-6


def test_a_deeper_lookahead_is_a_pure_function_of_the_order_of_events() -> None:
    def drive(depth: int) -> list[dict]:
        searcher = GpUcbSearcher(NAMES, n_initial=3, seed=4, lookahead=True, lookahead_depth=depth)
        configs = [searcher.suggest("p0"), searcher.suggest("p1")]
        for step in range(6):  # two running at once: the older ends, a new one starts
            done = f"p{step}"
            searcher.on_trial_complete(done, {"objective": objective(configs[step])})
            configs.append(searcher.suggest(f"p{step + 2}"))
        return configs

    assert drive(2) == drive(2)
    assert drive(2) != drive(1)  # a deeper queue proposes from older snapshots
