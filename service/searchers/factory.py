"""Build the searcher a job asks for, each over the same unit cube and metric."""

from __future__ import annotations

from typing import Any

from ray import tune
from ray.tune.search import ConcurrencyLimiter, Searcher
from ray.tune.search.basic_variant import BasicVariantGenerator

from service.searchers.gp_ucb import SUGGESTION_KEY, GpUcbSearcher

METRIC = "objective"
MODE = "max"


def search_space(parameter_names: list[str]) -> dict[str, Any]:
    """Tune's description of the unit cube, for the peers (GP-UCB keeps its own)."""
    return {name: tune.uniform(0.0, 1.0) for name in parameter_names}


def uniform_point(parameter_names: list[str]) -> dict[str, float]:
    """The all-equal-knots point: the uniform sampler, evaluated first as every job's baseline."""
    return {name: 0.5 for name in parameter_names}


def make_searcher(name: str, parameter_names: list[str], *, n_initial: int, beta: float, seed: int,
                  parallel: int, start_uniform: bool = True) -> tuple[Searcher | BasicVariantGenerator, dict[str, Any]]:
    """``(search_alg, param_space)`` for ``tune.TuneConfig`` / ``tune.Tuner``.

    ``gp-ucb``: :class:`GpUcbSearcher` (its own space, so ``param_space`` is empty).
    ``random``: Tune's ``BasicVariantGenerator`` drawing uniformly from the cube.
    ``optuna``: Tune's ``OptunaSearch`` with Optuna's TPE (``n_startup_trials = n_initial``).
    Model-based searchers are wrapped in a ``ConcurrencyLimiter`` of ``parallel``. With
    ``start_uniform`` every searcher evaluates :func:`uniform_point` first.
    """
    first = [uniform_point(parameter_names)] if start_uniform else []
    if name == "gp-ucb":
        searcher = GpUcbSearcher(parameter_names, METRIC, MODE, n_initial=n_initial, beta=beta, seed=seed)
        for point in first:
            searcher.requeue({**point, SUGGESTION_KEY: "uniform"})
        return ConcurrencyLimiter(searcher, max_concurrent=parallel), {}
    if name == "random":
        generator = BasicVariantGenerator(points_to_evaluate=first or None, random_state=seed, max_concurrent=parallel)
        return generator, search_space(parameter_names)
    if name == "optuna":
        import optuna
        from ray.tune.search.optuna import OptunaSearch

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=n_initial)
        optuna_space = {n: optuna.distributions.FloatDistribution(0.0, 1.0) for n in parameter_names}
        searcher = OptunaSearch(space=optuna_space, metric=METRIC, mode=MODE, sampler=sampler, seed=seed,
                                points_to_evaluate=first or None)
        return ConcurrencyLimiter(searcher, max_concurrent=parallel), {}
    raise ValueError(f"unknown searcher {name!r}; known: gp-ucb, random, optuna")


__all__ = ["METRIC", "MODE", "SUGGESTION_KEY", "make_searcher", "search_space", "uniform_point"]
