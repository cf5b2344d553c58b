"""Every strategy trains end to end on digits through the one training loop, keeping the
fraction of samples it promises."""

from __future__ import annotations

import pytest
import torch

from sampler_space.strategies import STRATEGIES
from workers.strategy_trial import StrategyPayload, run_strategy
from workers.tasks import TaskSpec, get_task, load_task_data
from workers.trial import TrialPayload

SELECTIVE = {"big-loss", "small-loss", "grad-norm", "adaboost", "coreset-1", "coreset-2", "adaselection"}
EPOCHS = 4


@pytest.fixture(scope="module")
def digits_payload_factory():
    data = load_task_data(TaskSpec("digits"), 0)
    recipe = get_task("digits").recipe

    def build(name: str, options: dict | None = None) -> StrategyPayload:
        return StrategyPayload(TrialPayload.of("digits", recipe, data, with_test=True), EPOCHS, name, options or {})

    return build


@pytest.mark.parametrize("name", sorted(set(STRATEGIES) - {"static-weights"}))
def test_strategy_runs_end_to_end_and_reports_every_epoch(name: str, digits_payload_factory) -> None:
    options = {"warmup": 20} if name == "nws" else {}
    reports: list[dict] = []
    results = run_strategy(0, digits_payload_factory(name, options), report=reports.append)
    assert [r["epoch"] for r in reports] == list(range(1, EPOCHS + 1))
    assert "test_accuracy" in reports[-1] and 0.0 <= reports[-1]["test_accuracy"] <= 1.0
    assert all(r["backward_samples"] <= r["forward_samples"] for r in reports)
    n = len(digits_payload_factory(name).trial.y_train)
    trained_fraction = sum(r.samples for r in results[1:]) / (n * (EPOCHS - 1))
    if name in SELECTIVE:
        assert trained_fraction == pytest.approx(0.3, abs=0.03)
    elif name == "nws":
        assert trained_fraction == pytest.approx(0.3, abs=0.08)
    else:
        assert trained_fraction == pytest.approx(1.0, abs=0.01)


def test_uniform_strategy_learns_digits(digits_payload_factory) -> None:
    reports: list[dict] = []
    run_strategy(0, digits_payload_factory("uniform"), report=reports.append)
    assert reports[-1]["test_accuracy"] > 0.85


def test_nws_skips_the_forward_pass_of_rejected_samples(digits_payload_factory) -> None:
    reports: list[dict] = []
    run_strategy(0, digits_payload_factory("nws", {"warmup": 10, "rate": 0.2}), report=reports.append)
    assert reports[-1]["forward_samples"] == reports[-1]["backward_samples"]
    assert reports[-1]["forward_samples"] < 0.5 * len(digits_payload_factory("nws").trial.y_train)


def test_nws_with_reference_keys_uses_given_keys(digits_payload_factory) -> None:
    payload = digits_payload_factory("nws", {"warmup": 10, "keys": "reference"})
    keys = torch.randn(len(payload.trial.y_train), 16)
    from dataclasses import replace

    reports: list[dict] = []
    run_strategy(0, replace(payload, keys=keys), report=reports.append)
    assert len(reports) == EPOCHS
