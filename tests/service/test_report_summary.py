"""The report's arithmetic: mean and sample standard deviation per sampler, gain = best − uniform."""

from __future__ import annotations

import pytest

from service.jobs.report import summarise
from workers.evaluation import Evaluation


def run(sampler: str, seed: int, test: float) -> Evaluation:
    return Evaluation("digits", sampler, seed, 5, val_accuracy=0.5, test_accuracy=test, seconds=1.0, device="cpu",
                      data_seed=3)


def test_the_report_states_mean_std_and_gain_over_seeds() -> None:
    runs = [run("best", 0, 0.80), run("best", 1, 0.90), run("uniform", 0, 0.70), run("uniform", 1, 0.70)]
    report = summarise(runs, epochs=5, seeds=2, data_seed=3, best_trial=4, seconds=12.5)
    assert report["best"] == {"test_accuracy_mean": pytest.approx(0.85), "test_accuracy_std": pytest.approx(0.0707107)}
    assert report["uniform"] == {"test_accuracy_mean": pytest.approx(0.70), "test_accuracy_std": 0.0}
    assert report["gain"] == pytest.approx(0.15) and report["best_trial"] == 4 and len(report["runs"]) == 4


def test_one_seed_has_zero_spread() -> None:
    report = summarise([run("best", 0, 0.6), run("uniform", 0, 0.65)], epochs=5, seeds=1, data_seed=0,
                       best_trial=0, seconds=1.0)
    assert report["best"]["test_accuracy_std"] == 0.0 and report["gain"] == pytest.approx(-0.05)


def test_while_running_the_report_counts_epochs_over_all_runs() -> None:
    from service.jobs.report import running_report

    latest = {"best/0": {"epoch": 7, "val_accuracy": 0.8}, "uniform/0": {"epoch": 5, "val_accuracy": 0.7}}
    report = running_report(0, 2, 20, latest)
    assert report["status"] == "running" and report["epochs_done"] == 12 and report["epochs_total"] == 40
