"""Strategy jobs through Ray Tune and SQL, and the compare command's table."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from sampler_space import sampler_to_document
from sampler_space.swift import SwiftSampler
from service.cli import app
from service.config import Settings
from service.jobs import run_job
from service.spec import StrategyJobSpec, parse_job_spec
from service.store import Store
from workers.reference import build_model, fit_transforms, shared_weights, static_features
from workers.tasks import TaskSpec, load_task_data

pytestmark = pytest.mark.usefixtures("ray_cluster")


def test_strategy_job_records_one_trial_per_seed_with_counts_and_test_accuracy(tmp_path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'jobs.db'}", cache_dir=tmp_path / "cache",
                        results_dir=tmp_path / "ray")
    store = Store(settings.database_url)
    spec = parse_job_spec({"kind": "strategy", "task": {"name": "digits", "label_noise": 0.2},
                           "strategy": {"name": "adaselection", "options": {"rate": 0.5}},
                           "run": {"seeds": 2, "epochs": 2}})
    assert isinstance(spec, StrategyJobSpec)
    job = run_job(store, store.create_job(spec.model_dump(), kind="strategy").id, settings)
    assert job.status == "succeeded", job.error
    trials = store.trials(job.id)
    assert [t.params for t in trials] == [{"seed": 0}, {"seed": 1}]
    for trial in trials:
        assert trial.status == "succeeded" and trial.suggestion == "adaselection"
        assert [m["epoch"] for m in trial.metrics] == [1, 2]
        assert all(m["backward_samples"] < m["forward_samples"] for m in trial.metrics)
        assert 0 < trial.metrics[-1]["test_accuracy"] <= 1 and trial.metrics[-1]["epoch_seconds"] > 0


def test_unknown_strategy_or_option_is_a_validation_error_naming_it() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="no strategy 'fancy'"):
        parse_job_spec({"kind": "strategy", "task": {"name": "digits"}, "strategy": {"name": "fancy"}})
    with pytest.raises(ValidationError, match="no option 'speed'"):
        parse_job_spec({"kind": "strategy", "task": {"name": "digits"},
                        "strategy": {"name": "nws", "options": {"speed": 1}}})


def test_a_swift_sampler_must_name_a_reference_round_count_it_could_come_from(tmp_path) -> None:
    from pydantic import ValidationError

    digits_sampler_file(tmp_path / "swift.json", tmp_path / "cache")
    document = json.loads((tmp_path / "swift.json").read_text())
    body = {"kind": "strategy", "task": {"name": "digits"}, "strategy": {"name": "swift", "options": {}}}
    for rounds in (2, 1):
        body["strategy"]["options"]["sampler"] = {**document, "source": {"reference_rounds": rounds}}
        assert parse_job_spec(body).strategy.name == "swift"
    body["strategy"]["options"]["sampler"] = {**document, "source": {"reference_rounds": 9}}
    with pytest.raises(ValidationError, match="options.sampler: source.reference_rounds must be an integer from 1"):
        parse_job_spec(body)


def digits_sampler_file(path, cache_dir) -> None:
    spec = TaskSpec("digits")
    data = load_task_data(spec, 0)
    import torch

    model = build_model(spec, data, 0, torch.device("cpu"))
    model.load_state_dict(shared_weights(spec, data, 0, torch.device("cpu"), cache_dir)[0])
    transforms = fit_transforms(static_features(model, data, ("loss", "entropy")), "cgf")
    sampler = SwiftSampler.from_unit_cube([1, 1, 0.5, 0.2, 0.1, 1, 1, 1, 1, 1], transforms)
    path.write_text(json.dumps(sampler_to_document(sampler)))


def test_compare_prints_and_writes_one_table_with_swift_and_strategies(tmp_path) -> None:
    digits_sampler_file(tmp_path / "swift.json", tmp_path / "cache")
    result = CliRunner().invoke(app, [
        "compare", "--task", "digits", "--runs", f"uniform,big-loss,swift:{tmp_path / 'swift.json'}",
        "--seeds", "2", "--epochs", "2", "--db", f"sqlite:///{tmp_path / 'jobs.db'}", "--out-dir", str(tmp_path),
    ], env={"SAMPLERSEARCH_CACHE_DIR": str(tmp_path / "cache"), "SAMPLERSEARCH_RESULTS_DIR": str(tmp_path / "ray")})
    assert result.exit_code == 0, result.output
    table = (tmp_path / "compare-digits-noise0.0.md").read_text()
    for run in ("uniform", "big-loss", "swift:"):
        assert f"| {run}" in table
    rows = (tmp_path / "compare-digits-noise0.0.csv").read_text().splitlines()
    assert len(rows) == 4 and rows[0].startswith("run,seeds,val acc,test acc")
    assert "1.00x" in rows[1]
    assert (tmp_path / "compare-digits-noise0.0.png").read_bytes()[:4] == b"\x89PNG"  # the runs on one figure
