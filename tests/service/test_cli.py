"""Command-line validation: bad input exits with code 2 and a message naming the field, before
any work starts."""

from __future__ import annotations

import json
import logging

import pytest
import torch
from malformed_arrays import MALFORMED_ARRAYS
from typer.testing import CliRunner

from service.cli import app
from service.store import Store

runner = CliRunner()


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["--task", "cifar"], "task.name"),
        (["--task", "cifar"], "known: arrays, digits, fashion-mnist, mnist1d"),
        (["--task", "digits", "--label-noise", "1.5"], "task.label_noise"),
        (["--task", "digits", "--label-noise", "-0.1"], "task.label_noise"),
        (["--task", "digits", "--imbalance", "0.5"], "task.imbalance"),
        (["--task", "digits", "--trials", "0"], "search.trials"),
        (["--task", "digits", "--parallel", "0"], "search.parallel"),
        (["--task", "digits", "--gpus-per-trial", "-1"], "resources.gpu"),
        (["--task", "digits", "--set", "search.objective=median"], "search.objective"),
        (["--task", "digits", "--set", "verify.seeds=1"], "verify.seeds"),
        (["--task", "digits", "--set", "search.no_such_field=1"], "search.no_such_field"),
        (["--task", "digits", "--set", "objective=best"], "--set: expected SECTION.FIELD=VALUE"),
        (["--task", "digits", "--set", "search.objective"], "--set: expected key=value"),
        (["--task", "digits", "--set", "kind.x=1"], "kind"),
        (["--task", "digits", "--train-size", "5"], "task.train_size"),
        (["--task", "digits", "--set", "search.reference_rounds=0"], "search.reference_rounds"),
        (["--task", "digits", "--set", "search.reference_rounds=6"], "search.reference_rounds"),
    ],
    ids=["unknown-task", "unknown-task-lists-known", "noise-above-1", "negative-noise", "imbalance-below-1",
         "zero-trials", "zero-parallel", "negative-gpu", "set-bad-choice", "set-below-minimum", "set-unknown-field",
         "set-without-section", "set-without-value", "set-not-a-section", "train-size-too-small",
         "no-reference-round", "too-many-reference-rounds"],
)
def test_run_rejects_bad_options_naming_the_field(arguments: list[str], expected: str, tmp_path) -> None:
    database = tmp_path / "jobs.db"
    result = runner.invoke(app, ["run", *arguments, "--db", f"sqlite:///{database}", "--out", str(tmp_path / "o.json")])
    assert result.exit_code == 2
    assert expected in result.output
    assert not database.exists()


def test_run_refuses_a_warm_start_from_a_missing_job_and_stores_nothing(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    result = runner.invoke(app, ["run", "--task", "digits", "--warm-start", "77", "--db", url])
    assert result.exit_code == 2 and "search.warm_start: no job 77" in result.output
    assert Store(url).list_jobs(limit=10) == []


def test_run_refuses_more_trials_than_the_configured_maximum(tmp_path) -> None:
    result = runner.invoke(app, ["run", "--task", "digits", "--trials", "11", "--db", f"sqlite:///{tmp_path / 'j.db'}"],
                           env={"SAMPLERSEARCH_MAX_TRIALS": "10"})
    assert result.exit_code == 2 and "search.trials: at most 10" in result.output


def test_evaluate_rejects_a_malformed_sampler_file_naming_the_field(tmp_path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"format": "samplersearch.sampler", "version": 7}))
    result = runner.invoke(app, ["evaluate", "--task", "digits", "--sampler", str(path)])
    assert result.exit_code == 2 and "--sampler" in result.output and "version" in result.output


def test_evaluate_rejects_a_sampler_whose_reference_rounds_are_not_a_round_count(tmp_path) -> None:
    from sampler_space import SwiftSampler, save_sampler
    from sampler_space.transforms import fit_transform

    transform = fit_transform("cdf", torch.rand(50))
    for rounds in (0, "2", 2.5):
        sampler = SwiftSampler(("loss",), (transform,), torch.full((1, 5), 0.5, dtype=torch.float64),
                               source={"reference_rounds": rounds})
        save_sampler(sampler, tmp_path / "s.json")
        result = runner.invoke(app, ["evaluate", "--task", "digits", "--sampler", str(tmp_path / "s.json")])
        assert result.exit_code == 2 and "--sampler: source.reference_rounds" in result.output


def test_evaluate_reports_a_missing_sampler_file(tmp_path) -> None:
    result = runner.invoke(app, ["evaluate", "--task", "digits", "--sampler", str(tmp_path / "none.json")])
    assert result.exit_code == 2 and "no file" in result.output


def test_evaluate_refuses_a_data_file_outside_the_data_directory(tmp_path) -> None:
    result = runner.invoke(app, ["evaluate", "--task", "arrays", "--data", "../../etc/passwd"],
                           env={"SAMPLERSEARCH_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 2 and "outside the data directory" in result.output


def test_run_refuses_a_missing_data_file_before_ray_or_the_store_starts(tmp_path) -> None:
    import time

    database = tmp_path / "jobs.db"
    started = time.monotonic()
    result = runner.invoke(app, ["run", "--task", "arrays", "--data", "absent.npz", "--db", f"sqlite:///{database}"],
                           env={"SAMPLERSEARCH_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 2 and "--data" in result.output and "not found" in result.output
    assert "Traceback" not in result.output and not database.exists()
    assert time.monotonic() - started < 10


@pytest.mark.parametrize("command", ["run", "run-strategy"])
@pytest.mark.parametrize("case", sorted(MALFORMED_ARRAYS))
def test_malformed_data_files_are_refused_in_one_line_before_ray_or_the_store(tmp_path, case: str,
                                                                             command: str) -> None:
    write, phrase = MALFORMED_ARRAYS[case]
    write(tmp_path / "bad.npz")
    database = tmp_path / "jobs.db"
    result = runner.invoke(app, [command, "--task", "arrays", "--data", "bad.npz", "--db", f"sqlite:///{database}"],
                           env={"SAMPLERSEARCH_DATA_DIR": str(tmp_path), "COLUMNS": "1000"})
    assert result.exit_code == 2, result.output
    assert phrase in result.output and "Traceback" not in result.output and not database.exists()
    assert len(result.output.strip().splitlines()) == 1, result.output


def test_tasks_lists_every_builtin_task() -> None:
    result = runner.invoke(app, ["tasks"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for name in ("digits", "mnist1d", "fashion-mnist", "arrays"):
        assert name in result.output


def test_export_of_an_unknown_job_is_a_clear_error(tmp_path) -> None:
    result = runner.invoke(app, ["export", "--job", "42", "--db", f"sqlite:///{tmp_path / 'j.db'}"])
    assert result.exit_code == 2 and "no job 42" in result.output


def test_the_console_script_is_main_which_applies_the_log_level() -> None:
    import subprocess
    import sys
    from importlib.metadata import entry_points

    assert entry_points(group="console_scripts")["samplersearch"].value == "service.cli:main"
    loud = subprocess.run([sys.executable, "-m", "service", "tasks"], capture_output=True, text=True,
                          env={"SAMPLERSEARCH_LOG_LEVEL": "loud", "PATH": ""}, timeout=120)
    assert loud.returncode == 2 and "log_level" in loud.stderr and "Traceback" not in loud.stderr
    debug = subprocess.run([sys.executable, "-c", "import logging, sys; sys.argv = ['samplersearch', 'tasks']; "
                            "from service.cli import main; import contextlib\n"
                            "with contextlib.suppress(SystemExit): main()\n"
                            "print(logging.getLogger().getEffectiveLevel())"],
                           capture_output=True, text=True, env={"SAMPLERSEARCH_LOG_LEVEL": "debug", "PATH": ""},
                           timeout=120)
    assert debug.stdout.strip().splitlines()[-1] == str(logging.DEBUG), debug.stderr


def test_a_second_serve_on_a_taken_dashboard_port_fails_with_one_line_naming_the_option(tmp_path) -> None:
    import socket
    import subprocess
    import sys

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "service", "serve", "--port", "0", "--dashboard-port", str(port),
                                 "--db", f"sqlite:///{tmp_path / 'jobs.db'}"], capture_output=True, text=True,
                                timeout=120, cwd=tmp_path)
    assert result.returncode == 2
    assert "--dashboard-port" in result.stderr and f"port {port}" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) <= 3


def test_serve_on_a_taken_api_port_fails_with_one_line_before_starting_ray(tmp_path) -> None:
    """The API port is bound before the local Ray head starts, so a taken one fails at once."""
    import os
    import socket
    import subprocess
    import sys

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "service", "serve", "--port", str(port), "--dashboard-port", "0",
                                 "--db", f"sqlite:///{tmp_path / 'jobs.db'}"], capture_output=True, text=True,
                                timeout=120, cwd=tmp_path,
                                env={**os.environ, "SAMPLERSEARCH_RAY_AUTH_TOKEN_FILE": str(tmp_path / "ray" / "token")})
    assert result.returncode == 2, result.stderr
    assert f"--port {port}" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 3
    assert not (tmp_path / "ray" / "ray-head.log").exists()  # no local Ray head was started
