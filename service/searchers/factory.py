"""Build the searcher a job asks for, each over the same unit cube and metric, and warm-start it
from the store when the job resumes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ray.tune.search import ConcurrencyLimiter, Searcher

from sampler_space.space import SamplerSpace
from service.searchers.gp_ucb import SUGGESTION_KEY, GpUcbSearcher
from service.spec import SEARCHERS

METRIC = "objective"
MODE = "max"


@dataclass(frozen=True)
class SearchHistory:
    """What a resumed job's searcher learns from the store.

    Attributes:
        finished: ``(params, metric)`` of every finished trial; ``metric`` is ``None`` for a failed one.
        interrupted: params of trials that were running when the job stopped; they are suggested
            again first, with their own points (a ``_suggestion`` key says where a point came from).
        prior: ``(params, metric)`` of earlier jobs' succeeded trials (``search.warm_start``):
            observations to learn, not trials of this job.
    """

    finished: list[tuple[dict[str, float], float | None]] = field(default_factory=list)
    interrupted: list[dict[str, Any]] = field(default_factory=list)
    prior: list[tuple[dict[str, float], float]] = field(default_factory=list)

    @property
    def fresh(self) -> bool:
        """No trial of this job has run yet (``prior`` observations do not count)."""
        return not self.finished and not self.interrupted


def _points(points: list[dict[str, Any]], space: SamplerSpace) -> list[dict[str, float]]:
    return [{name: float(point[name]) for name in space.names} for point in points]


def make_searcher(name: str, space: SamplerSpace, *, n_initial: int, beta: float, seed: int, parallel: int,
                  start_uniform: bool = True, history: SearchHistory | None = None, lookahead: bool = True,
                  ) -> tuple[Searcher, dict[str, Any]]:
    """``(search_alg, param_space)`` for ``tune.TuneConfig`` / ``tune.Tuner``.

    ``gp-ucb``: :class:`GpUcbSearcher`, keeping ``parallel`` suggestions prepared while trials
    run when ``lookahead`` and ``parallel > 1`` (a burst of trials ending together waits for no fit).
    ``random``: Tune's ``OptunaSearch`` with Optuna's ``RandomSampler`` (uniform on the cube).
    ``optuna``: Tune's ``OptunaSearch`` with Optuna's TPE (``n_startup_trials = n_initial``).
    Each is a Tune ``Searcher`` (so every suggestion can carry its trial index) with its own
    space (``param_space`` is empty), in a ``ConcurrencyLimiter`` of ``parallel``. A fresh job
    with ``start_uniform`` evaluates :meth:`SamplerSpace.uniform_point` first.

    Resuming (``history`` not fresh): every searcher re-runs the interrupted points first and
    learns the finished trials as observations, so GP-UCB and TPE neither repeat them nor restart
    their initial design; random search, which learns nothing, is re-seeded from ``(seed,
    finished count)`` so that it draws new points instead of its first ones again.

    Warm start (``history.prior``): GP-UCB and TPE learn those observations first; GP-UCB then
    skips as much of its Sobol design as they fill (it needs ``n_initial`` observations in all).
    Random search ignores them.
    """
    history = history or SearchHistory()
    first = [space.uniform_point()] if start_uniform and history.fresh else []
    if name == "gp-ucb":
        searcher = GpUcbSearcher(space.names, METRIC, MODE, n_initial=n_initial, beta=beta, seed=seed,
                                 lookahead=lookahead and parallel > 1, lookahead_depth=parallel)
        for point in first:
            searcher.requeue({**point, SUGGESTION_KEY: "uniform"})
        for params, metric in history.prior:
            searcher.add_evaluated_point(params, metric)
        for params, metric in history.finished:
            searcher.add_evaluated_point(params, metric, error=metric is None)
        searcher.skip_initial_points(min(len(history.finished) + len(history.interrupted), n_initial))
        for params in history.interrupted:
            searcher.requeue(params)
        return ConcurrencyLimiter(searcher, max_concurrent=parallel), {}
    if name in ("random", "optuna"):
        import optuna
        from ray.tune.search.optuna import OptunaSearch

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        if name == "random":
            # A resumed random search goes on with other draws than the ones it has made.
            random_seed = seed if history.fresh else seed * 1_000_003 + len(history.finished)
            sampler: optuna.samplers.BaseSampler = optuna.samplers.RandomSampler(seed=random_seed)
        else:
            sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=n_initial)
        optuna_space = {n: optuna.distributions.FloatDistribution(0.0, 1.0) for n in space.names}
        points = first + _points(history.interrupted, space)
        searcher = OptunaSearch(space=optuna_space, metric=METRIC, mode=MODE, sampler=sampler, seed=seed,
                                points_to_evaluate=points or None)
        if name == "optuna":
            for params, metric in history.prior:
                searcher.add_evaluated_point(_points([params], space)[0], metric)
        for params, metric in history.finished:
            searcher.add_evaluated_point(_points([params], space)[0], metric, error=metric is None)
        return ConcurrencyLimiter(searcher, max_concurrent=parallel), {}
    raise ValueError(f"unknown searcher {name!r}; known: {', '.join(SEARCHERS)}")


__all__ = ["METRIC", "MODE", "SUGGESTION_KEY", "SearchHistory", "make_searcher"]
