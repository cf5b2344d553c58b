"""Every searcher learns a resumed job's stored trials: finished ones are observations (or, for
random search, points it does not draw again) and interrupted ones are re-run at their own points."""

from __future__ import annotations

import pytest

from sampler_space import SamplerSpace
from service.jobs.search import search_history
from service.searchers import SUGGESTION_KEY, GpUcbSearcher, SearchHistory, make_searcher
from service.store import Store

SPACE = SamplerSpace()


def point(value: float) -> dict[str, float]:
    return {name: value for name in SPACE.names}


def stored_history(tmp_path) -> SearchHistory:
    """Two succeeded trials, one failed and one interrupted, read back from a real store."""
    store = Store(f"sqlite:///{tmp_path / 'jobs.db'}")
    job = store.create_job({"task": {"name": "digits"}})
    for index, (status, metric) in enumerate([("succeeded", 0.6), ("succeeded", 0.7), ("failed", None)]):
        store.start_trial(job.id, index, point(0.1 + 0.2 * index), suggestion="sobol")
        store.finish_trial(job.id, index, status=status, metric=metric)
    store.start_trial(job.id, 3, point(0.9), suggestion="gp-ucb")
    return search_history(store, job.id)


def make(name: str, history: SearchHistory, parallel: int = 2):
    return make_searcher(name, SPACE, n_initial=4, beta=2.0, seed=0, parallel=parallel, history=history)


def test_the_store_gives_finished_and_interrupted_trials(tmp_path) -> None:
    history = stored_history(tmp_path)
    assert [metric for _, metric in history.finished] == [0.6, 0.7, None]
    assert history.interrupted == [{**point(0.9), SUGGESTION_KEY: "gp-ucb"}] and not history.fresh


def test_gp_ucb_observes_the_finished_trials_and_reruns_the_interrupted_one(tmp_path) -> None:
    search_alg, _ = make("gp-ucb", stored_history(tmp_path))
    inner: GpUcbSearcher = search_alg.searcher
    assert inner.num_observations == 2  # the failed trial is no observation
    first = search_alg.suggest("t1")
    assert {n: first[n] for n in SPACE.names} == point(0.9) and first[SUGGESTION_KEY] == "gp-ucb"


def test_optuna_study_holds_the_finished_trials_and_reruns_the_interrupted_one(tmp_path) -> None:
    import optuna

    search_alg, _ = make("optuna", stored_history(tmp_path))
    study = search_alg.searcher._ot_study
    states = [trial.state for trial in study.trials]
    assert states.count(optuna.trial.TrialState.COMPLETE) == 2 and states.count(optuna.trial.TrialState.FAIL) == 1
    assert sorted(t.value for t in study.trials if t.value is not None) == [0.6, 0.7]
    first = search_alg.suggest("t1")
    assert first == pytest.approx(point(0.9))


def test_random_search_reruns_the_interrupted_point_then_draws_new_ones(tmp_path) -> None:
    fresh_alg, _ = make("random", SearchHistory(), parallel=3)
    resumed_alg, _ = make("random", stored_history(tmp_path), parallel=3)

    def draws(search_alg) -> list[dict[str, float]]:
        configs = [search_alg.suggest(f"t{n}") for n in range(3)]
        return [{name: config[name] for name in SPACE.names} for config in configs]

    fresh, resumed = draws(fresh_alg), draws(resumed_alg)
    assert resumed[0] == pytest.approx(point(0.9))
    assert fresh[0] == pytest.approx(point(0.5))  # a fresh job starts with the uniform sampler
    assert all(r != f for r in resumed[1:] for f in fresh[1:]), "a resumed random search must not redraw its points"
