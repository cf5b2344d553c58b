"""Every searcher learns a resumed job's stored trials: finished ones are observations (or, for
random search, points it does not draw again) and interrupted ones are re-run at their own points."""

from __future__ import annotations

import pytest

from sampler_space import SamplerSpace
from service.jobs.search import search_history
from service.jobs.warm_start import WarmStartError, check_sources, warm_start_observations
from service.searchers import SUGGESTION_KEY, GpUcbSearcher, SearchHistory, make_searcher
from service.spec import JobSpec
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


def search_spec(**search) -> JobSpec:
    return JobSpec.model_validate({"task": {"name": "digits", "label_noise": 0.2}, "search": search})


def store_with_source(tmp_path) -> tuple[Store, int]:
    """A store holding one finished search job (seed 0, default space): 6 succeeded trials, one failed."""
    store = Store(f"sqlite:///{tmp_path / 'jobs.db'}")
    source = store.create_job(search_spec().model_dump())
    for index in range(7):
        store.start_trial(source.id, index, point(0.1 * index), suggestion="sobol")
        failed = index == 6
        store.finish_trial(source.id, index, status="failed" if failed else "succeeded", metric=None if failed else 0.5)
    return store, source.id


def test_warm_start_learns_the_succeeded_trials_of_a_comparable_job(tmp_path) -> None:
    store, source = store_with_source(tmp_path)
    spec = search_spec(seed=3, warm_start=[source])  # another seed measures the same thing
    job = store.create_job(spec.model_dump())
    observations = warm_start_observations(store, spec, job.id)
    assert [params for params, _ in observations] == [point(0.1 * i) for i in range(6)]
    search_alg, _ = make("gp-ucb", SearchHistory(prior=observations))
    inner: GpUcbSearcher = search_alg.searcher
    assert inner.num_observations == 6
    first, second = search_alg.suggest("t0"), search_alg.suggest("t1")
    assert first[SUGGESTION_KEY] == "uniform"  # a fresh job still measures uniform first
    assert second[SUGGESTION_KEY] == "gp-ucb"  # the prior fills the Sobol design (n_initial 4)


@pytest.mark.parametrize(("change", "field"), [
    ({"task": {"name": "digits", "label_noise": 0.3}}, "task.label_noise"),
    ({"task": {"name": "digits", "label_noise": 0.2, "clean_validation": True}}, "task.clean_validation"),
    ({"search": {"transform": "cdf"}}, "search.transform"),
    ({"search": {"features": ["loss"]}}, "search.features"),
    ({"search": {"fine_tune_epochs": 9}}, "search.fine_tune_epochs"),
    ({"search": {"fine_tune_lr": 0.01}}, "search.fine_tune_lr"),
    ({"search": {"reference_rounds": 1}}, "search.reference_rounds"),
    ({"search": {"objective": "best"}}, "search.objective"),
])
def test_warm_start_refuses_a_job_that_measured_something_else(tmp_path, change: dict, field: str) -> None:
    store, source = store_with_source(tmp_path)
    body = {"task": {"name": "digits", "label_noise": 0.2}, **change}
    body["search"] = {**body.get("search", {}), "warm_start": [source]}
    with pytest.raises(WarmStartError, match=f"job {source} differs in {field}"):
        check_sources(store, JobSpec.model_validate(body))


def test_warm_start_refuses_missing_strategy_and_own_jobs(tmp_path) -> None:
    store, source = store_with_source(tmp_path)
    strategy = store.create_job({"kind": "strategy"}, kind="strategy")
    with pytest.raises(WarmStartError, match="no job 99"):
        check_sources(store, search_spec(warm_start=[99]))
    with pytest.raises(WarmStartError, match=f"job {strategy.id} is a strategy job"):
        check_sources(store, search_spec(warm_start=[strategy.id]))
    stale = store.create_job({"task": {"name": "digits"}, "search": {"searcher": "gone"}})
    with pytest.raises(WarmStartError, match=f"job {stale.id}'s stored spec is no longer valid"):
        check_sources(store, search_spec(warm_start=[stale.id]))
    with pytest.raises(WarmStartError, match=f"job {source} is this job"):
        check_sources(store, search_spec(warm_start=[source]), job_id=source)
