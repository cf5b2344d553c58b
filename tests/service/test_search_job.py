"""One real search end to end on a small task: real Ray Tune, real BoTorch, real SQL (SQLite)."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from ray.tune.search import ConcurrencyLimiter
from typer.testing import CliRunner

from sampler_space import load_sampler, parameter_names
from service.cli import app
from service.config import Settings
from service.jobs import job_sampler_document, run_job
from service.searchers import GpUcbSearcher
from service.spec import JobSpec
from service.store import Store

pytestmark = pytest.mark.usefixtures("ray_cluster")

TRIALS = 6


@pytest.fixture(scope="module")
def cli_search(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`samplersearch run` on digits with 30% label noise, once for this module."""
    workdir = tmp_path_factory.mktemp("search")
    database = f"sqlite:///{workdir / 'jobs.db'}"
    out = workdir / "best.json"
    result = CliRunner().invoke(app, [
        "run", "--task", "digits", "--label-noise", "0.3", "--trials", str(TRIALS), "--initial", "3",
        "--parallel", "2", "--seed", "1", "--db", database, "--out", str(out),
    ], env={"SAMPLERSEARCH_CACHE_DIR": str(workdir / "cache"), "SAMPLERSEARCH_RESULTS_DIR": str(workdir / "ray")})
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    return {"summary": summary, "database": database, "out": out, "workdir": workdir, "output": result.output}


def test_search_records_every_trial_as_succeeded_with_history(cli_search: dict) -> None:
    store = Store(cli_search["database"])
    job = store.get_job(cli_search["summary"]["job_id"])
    trials = store.trials(job.id)
    assert job.status == "succeeded" and job.finished_at is not None
    assert [t.index for t in trials] == list(range(TRIALS))
    epochs = JobSpec.model_validate(job.spec).search.fine_tune_epochs or 3
    for trial in trials:
        assert trial.status == "succeeded" and 0.0 <= trial.metric <= 1.0
        assert [m["epoch"] for m in trial.metrics] == list(range(1, epochs + 1))
        assert trial.metric == trial.metrics[-1]["objective"]
        assert trial.device == "cpu" and trial.worker_node and trial.duration_s > 0
        assert set(trial.params) == set(parameter_names())


def test_the_cli_run_ends_with_a_from_scratch_report_table(cli_search: dict) -> None:
    report = cli_search["summary"]["report"]
    assert report["status"] == "done" and report["seeds"] == 1 and report["epochs"] == 20  # digits' scratch_epochs
    assert report["gain"] == pytest.approx(report["best"]["test_accuracy_mean"] - report["uniform"]["test_accuracy_mean"])
    stored = Store(cli_search["database"]).get_job(cli_search["summary"]["job_id"]).report
    assert [(r["sampler"], r["seed"], r["data_seed"]) for r in stored["runs"]] == [("best", 0, 1), ("uniform", 0, 1)]
    assert stored["best_trial"] == cli_search["summary"]["recommended_trial"]
    assert "test accuracy" in cli_search["output"] and "uniform" in cli_search["output"]


def test_a_succeeded_search_keeps_its_row_weights_and_reference_model(cli_search: dict) -> None:
    import io

    import numpy as np

    from workers.reference_model import load_reference_model

    store = Store(cli_search["database"])
    job_id = cli_search["summary"]["job_id"]
    assert store.artifact_names(job_id) == ["reference-model.pt", "samples.npz", "weights.npy"]
    weights = np.load(io.BytesIO(store.artifact(job_id, "weights.npy").content))
    assert weights.shape == (1348,) and np.isfinite(weights).all() and (weights > 0).all()
    model = load_reference_model(store.artifact(job_id, "reference-model.pt").content)
    # The reference model is the second round's (search.reference_rounds defaults to 2), cached as such.
    import torch

    from workers.reference import shared_weights_path
    from workers.tasks import TaskSpec

    cached = shared_weights_path(TaskSpec("digits", 0.3), 1, cli_search["workdir"] / "cache", rounds=2)
    assert cached.is_file()
    exported = model.model.state_dict()
    assert all(torch.equal(value, exported[name]) for name, value in torch.load(cached, weights_only=True).items())
    assert model.task == {"name": "digits", "label_noise": 0.3, "noise_kind": "symmetric", "imbalance": 1.0,
                          "data": None, "train_size": None, "clean_validation": False}


def test_plot_command_draws_every_search_plot_from_the_store(cli_search: dict, tmp_path) -> None:
    job_id = cli_search["summary"]["job_id"]
    result = CliRunner().invoke(app, ["plot", "--job", str(job_id), "--out-dir", str(tmp_path), "--format", "svg",
                                      "--db", cli_search["database"]])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [f"job-{job_id}-{n}.svg" for n in ("history", "importance", "sampler", "timeline", "weights")]
    assert all(b"<svg" in (tmp_path / n).read_bytes() for n in names)


def test_search_starts_with_uniform_then_sobol_then_gp(cli_search: dict) -> None:
    store = Store(cli_search["database"])
    trials = store.trials(cli_search["summary"]["job_id"])
    assert trials[0].suggestion == "uniform" and set(trials[0].params.values()) == {0.5}
    assert [t.suggestion for t in trials[1:3]] == ["sobol", "sobol"]
    # With lookahead (two points kept prepared at --parallel 2) a point prepared before two
    # observations exist is one more Sobol point.
    assert {t.suggestion for t in trials[3:]} <= {"gp-ucb", "sobol", "sobol-duplicate", "sobol-fallback"}
    assert sum(t.suggestion == "sobol" for t in trials[3:]) <= 2
    assert any(t.suggestion == "gp-ucb" for t in trials[3:])


def test_exported_json_is_the_verified_recommendation_and_loads(cli_search: dict) -> None:
    store = Store(cli_search["database"])
    job = store.get_job(cli_search["summary"]["job_id"])
    assert job.best_trial_index == store.best_trial(job.id).index  # the best observation, kept apart
    recommendation = job.recommendation
    assert recommendation["seeds"] == [2, 3, 4, 5]  # fresh seeds: the search's own is 1
    assert "paired t-test" in recommendation["test"] and recommendation["reason"]
    assert recommendation["measure"] == "scratch"
    candidates = recommendation["candidates"]
    assert len(candidates) == 2 and all(len(c["values"]) == 4 for c in candidates)
    assert len(recommendation["uniform"]["values"]) == 4
    assert [c["posterior_mean"] for c in candidates] == sorted((c["posterior_mean"] for c in candidates), reverse=True)
    assert 0 not in [c["trial"] for c in candidates]  # trial 0 is uniform itself
    document = json.loads(cli_search["out"].read_text())
    assert document["source"]["reference_rounds"] == 2  # the default: evaluate rebuilds that reference model
    assert document["source"]["recommended"] == recommendation["choice"]
    assert document["source"]["reason"] == recommendation["reason"]
    sampler = load_sampler(cli_search["out"])
    if recommendation["choice"] == "uniform":
        assert document["source"]["trial_id"] is None and set(sampler.to_unit_cube().tolist()) == {0.5}
    else:
        chosen = store.trial(job.id, recommendation["trial"])
        assert document["source"]["trial_id"] == chosen.index
        assert sampler.to_unit_cube().tolist() == [chosen.params[name] for name in parameter_names()]
    assert all(t.kind == "cgf" for t in sampler.transforms)
    summary = cli_search["summary"]
    assert summary["recommended"] == recommendation["choice"] and summary["reason"] == recommendation["reason"]


def test_a_scratch_verify_trains_the_candidates_from_scratch_on_fresh_seeds(cli_search: dict) -> None:
    import ray

    from service.jobs.search import prepare_search
    from service.jobs.verify import run_verify, scratch_validation_accuracy

    store = Store(cli_search["database"])
    job = store.get_job(cli_search["summary"]["job_id"])
    spec = JobSpec.model_validate({**job.spec, "verify": {"candidates": 1, "seeds": 2, "epochs": 2}})
    workdir = cli_search["workdir"]
    settings = Settings(database_url=cli_search["database"], cache_dir=workdir / "cache", results_dir=workdir / "ray")
    prepared = prepare_search(spec, settings)
    record = run_verify(store, job.id, spec, prepared, settings)
    assert record["measure"] == "scratch" and record["seeds"] == [2, 3] and len(record["candidates"]) == 1
    values = record["uniform"]["values"] + record["candidates"][0]["values"]
    assert len(values) == 4 and all(0.0 < v <= 1.0 for v in values)
    if record["choice"] == "trial":
        assert "validation accuracy from scratch" in record["reason"]
    # A measurement is one seeded from-scratch run on the validation split: running it again agrees.
    again = ray.remote(scratch_validation_accuracy).options(num_cpus=1)
    assert ray.get(again.remote(spec, settings.task_paths(), prepared.context, None, 2)) == values[0]


def test_evaluate_trains_from_scratch_with_the_exported_sampler(cli_search: dict) -> None:
    env = {"SAMPLERSEARCH_CACHE_DIR": str(cli_search["workdir"] / "cache")}
    for sampler in (str(cli_search["out"]), "uniform"):
        result = CliRunner().invoke(app, ["evaluate", "--task", "digits", "--label-noise", "0.3", "--seed", "1",
                                          "--sampler", sampler, "--epochs", "3"], env=env)
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout.strip().splitlines()[-1])
        assert report["epochs"] == 3 and 0.3 < report["test_accuracy"] <= 1.0 and 0 < report["val_accuracy"] <= 1


def test_export_command_writes_another_trials_sampler(cli_search: dict, tmp_path) -> None:
    out = tmp_path / "trial2.json"
    result = CliRunner().invoke(app, ["export", "--job", str(cli_search["summary"]["job_id"]), "--trial", "2",
                                      "--db", cli_search["database"], "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["source"]["trial_id"] == 2


class PoisonedSearcher(GpUcbSearcher):
    """GP-UCB whose second suggestion is outside the unit cube: the trial must fail, not the job."""

    def suggest(self, trial_id: str) -> dict | None:
        config = super().suggest(trial_id)
        if self._sobol_drawn == 2 and trial_id not in getattr(self, "_poisoned", set()):
            self._poisoned = {trial_id}
            config = {**config, "loss_k0": 1.5}
            self._pending[trial_id] = config
        return config


def test_a_failing_trial_is_recorded_and_the_search_goes_on(tmp_path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'jobs.db'}", cache_dir=tmp_path / "cache",
                        results_dir=tmp_path / "ray")
    store = Store(settings.database_url)
    spec = JobSpec.model_validate({"task": {"name": "digits"},
                                   "search": {"trials": 4, "initial": 2, "parallel": 2, "start_uniform": False}})
    job = store.create_job(spec.model_dump())
    searcher = ConcurrencyLimiter(PoisonedSearcher(parameter_names(), n_initial=2, seed=0), max_concurrent=2)
    job = run_job(store, job.id, settings, search_alg=searcher)
    trials = store.trials(job.id)
    failed = [t for t in trials if t.status == "failed"]
    assert job.status == "succeeded" and len(trials) == 4
    assert len(failed) == 1 and "InvalidCandidateError" in failed[0].error and "loss_k0" in failed[0].error
    assert failed[0].params["loss_k0"] == 1.5
    assert all(t.status == "succeeded" and math.isfinite(t.metric) for t in trials if t is not failed[0])
    assert job_sampler_document(store, job.id)["source"]["trial_id"] != failed[0].index


def test_a_job_asking_for_gpus_on_a_cluster_without_fails_fast(tmp_path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'jobs.db'}", cache_dir=tmp_path / "cache",
                        results_dir=tmp_path / "ray")
    store = Store(settings.database_url)
    spec = JobSpec.model_validate({"task": {"name": "digits"}, "search": {"trials": 2}, "resources": {"gpu": 1}})
    job = run_job(store, store.create_job(spec.model_dump()).id, settings)
    assert job.status == "failed" and "InsufficientResourcesError: resources.gpu" in job.error and "GPU" in job.error
    assert store.trials(job.id) == []


def test_resume_finishes_an_interrupted_job_without_repeating_its_trials(tmp_path) -> None:
    database = f"sqlite:///{tmp_path / 'jobs.db'}"
    store = Store(database)
    spec = JobSpec.model_validate({"task": {"name": "digits"}, "search": {"trials": 4, "initial": 2, "parallel": 2}})
    job = store.create_job(spec.model_dump())
    store.update_job(job.id, status="running")
    for index, value in enumerate([0.5, 0.6]):
        store.start_trial(job.id, index, {name: 0.2 + 0.3 * index for name in parameter_names()}, suggestion="sobol")
        store.finish_trial(job.id, index, status="succeeded", metric=value)
    before = {t.index: t.finished_at for t in store.trials(job.id)}
    result = CliRunner().invoke(app, ["resume", "--job", str(job.id), "--db", database, "--out", str(tmp_path / "b.json")],
                                env={"SAMPLERSEARCH_CACHE_DIR": str(tmp_path / "cache"),
                                     "SAMPLERSEARCH_RESULTS_DIR": str(tmp_path / "ray")})
    assert result.exit_code == 0, result.output
    trials = store.trials(job.id)
    assert [t.index for t in trials] == [0, 1, 2, 3] and all(t.status == "succeeded" for t in trials)
    assert {t.index: t.finished_at for t in trials[:2]} == before
    assert store.get_job(job.id).status == "succeeded"


def test_resume_refuses_a_finished_job(cli_search: dict) -> None:
    result = CliRunner().invoke(app, ["resume", "--job", str(cli_search["summary"]["job_id"]),
                                      "--db", cli_search["database"]])
    assert result.exit_code == 2 and "only unfinished search jobs resume" in result.output
