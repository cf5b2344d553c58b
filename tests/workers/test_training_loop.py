"""The one training loop, shared weights and the fine-tune trainable."""

from __future__ import annotations

import pytest
import torch

from sampler_space.features import features_from_logits, predict_logits
from sampler_space.space import InvalidCandidateError, SamplerSpace
from workers.reference import (
    CLEAN_FLOOR,
    build_model,
    clean_probability,
    shared_weights,
    shared_weights_key,
    train_shared_weights,
)
from workers.tasks import Recipe, TaskSpec, get_task, load_task_data
from workers.trainable import FineTunePayload, objective_value, run_fine_tune
from workers.training import NonFiniteLossError, accuracy, train
from workers.trial import TrialPayload

SPEC = TaskSpec("digits")


@pytest.fixture(scope="module")
def digits():
    return load_task_data(SPEC, 0)


def fit(data, epochs: int = 3, seed: int = 0, recipe: Recipe | None = None, **kwargs):
    recipe = recipe or get_task("digits").recipe
    model = build_model(SPEC, data, seed, torch.device("cpu"))
    history = train(model, data.x_train, data.y_train, data.x_val, data.y_val, epochs=epochs, lr=recipe.lr,
                    recipe=recipe, seed=seed, **kwargs)
    return model, history


def test_training_lifts_validation_accuracy_far_above_chance(digits) -> None:
    _, history = fit(digits, epochs=4)
    assert history[-1].val_accuracy > 0.85 and history[0].epoch == 1 and len(history) == 4


def test_same_seed_gives_identical_training(digits) -> None:
    first, _ = fit(digits, epochs=2, seed=3)
    second, _ = fit(digits, epochs=2, seed=3)
    for a, b in zip(first.parameters(), second.parameters()):
        assert torch.equal(a, b)


def test_weighted_sampling_only_visits_samples_with_weight(digits) -> None:
    weights = torch.zeros(len(digits.y_train))
    weights[:50] = 1.0
    only_first, _ = fit(digits, epochs=1, weights=weights)
    # An epoch's worth of steps on 50 samples fits those 50, not the rest.
    seen = accuracy(only_first, digits.x_train[:50], digits.y_train[:50])
    unseen = accuracy(only_first, digits.x_train[50:], digits.y_train[50:])
    assert seen > unseen + 0.1


def test_absurd_learning_rate_fails_with_non_finite_loss(digits) -> None:
    with pytest.raises(NonFiniteLossError, match="non-finite"):
        fit(digits, epochs=2, recipe=Recipe(optimizer="sgd", lr=1e12, momentum=0.0, batch_size=64))


def test_infinite_inputs_fail_with_non_finite_loss(digits) -> None:
    from dataclasses import replace

    broken = replace(digits, x_train=digits.x_train.clone().fill_(float("inf")))
    with pytest.raises(NonFiniteLossError):
        fit(broken, epochs=1)


def test_shared_weights_are_cached_by_spec_and_seed(digits, tmp_path) -> None:
    first, cached_first = shared_weights(SPEC, digits, 0, torch.device("cpu"), tmp_path)
    second, cached_second = shared_weights(SPEC, digits, 0, torch.device("cpu"), tmp_path)
    assert (cached_first, cached_second) == (False, True)
    assert all(torch.equal(first[k], second[k]) for k in first)
    other, cached_other = shared_weights(TaskSpec("digits", label_noise=0.1), digits, 0, torch.device("cpu"), tmp_path)
    assert not cached_other


def payload(data, state) -> FineTunePayload:
    return FineTunePayload(TrialPayload.of("digits", get_task("digits").recipe, data), state,
                           torch.rand(len(data.y_train), 2), SamplerSpace(("loss", "entropy"), 4), 1e-3, 2, "best", 0,
                           get_task("digits").recipe.fine_tune_lr)


def test_fine_tune_reports_every_epoch_with_the_documented_keys(digits, tmp_path) -> None:
    state, _ = shared_weights(SPEC, digits, 0, torch.device("cpu"), tmp_path)
    reports: list[dict] = []
    config = {f"{f}_k{k}": 0.5 for f in ("loss", "entropy") for k in range(5)}
    run_fine_tune(config, payload(digits, state), report=reports.append)
    assert [r["epoch"] for r in reports] == [1, 2]
    expected = {"val_accuracy", "objective", "train_loss", "epoch_seconds", "samples_per_second", "device", "node_id"}
    assert expected <= set(reports[0])
    assert reports[1]["objective"] == max(r["val_accuracy"] for r in reports)


def test_fine_tune_runs_at_the_payloads_learning_rate(digits, tmp_path) -> None:
    """``fine_tune_lr`` is the rate the fine-tune uses: at a negligible one the shared weights' score stays."""
    from dataclasses import replace

    from workers.training import accuracy

    state, _ = shared_weights(SPEC, digits, 0, torch.device("cpu"), tmp_path)
    model = get_task("digits").build_model(digits.input_shape, digits.num_classes)
    model.load_state_dict(state)
    start = accuracy(model, digits.x_val, digits.y_val)
    config = {f"{f}_k{k}": 0.5 for f in ("loss", "entropy") for k in range(5)}
    frozen: list[dict] = []
    run_fine_tune(config, replace(payload(digits, state), fine_tune_lr=1e-12), report=frozen.append)
    assert [r["val_accuracy"] for r in frozen] == [start, start]
    moved: list[dict] = []
    run_fine_tune(config, replace(payload(digits, state), fine_tune_lr=0.05), report=moved.append)
    assert moved[-1]["val_accuracy"] != start


@pytest.mark.parametrize(("kind", "epochs", "expected"), [
    ("last", 5, 0.3), ("best", 5, 0.6), ("tail-mean", 5, (0.5 + 0.6 + 0.3) / 3), ("tail-mean", 4, (0.6 + 0.3) / 2),
    ("tail-mean", 1, 0.3),
])
def test_objective_value_follows_its_kind(kind: str, epochs: int, expected: float) -> None:
    finished = [0.1, 0.2, 0.5, 0.6, 0.3][-epochs:]
    assert objective_value(kind, finished, epochs) == pytest.approx(expected)


def test_tail_mean_so_far_averages_the_epochs_reached() -> None:
    assert objective_value("tail-mean", [0.2], 6) == pytest.approx(0.2)
    assert objective_value("tail-mean", [0.2, 0.4, 0.9], 6) == pytest.approx(0.5)
    assert objective_value("tail-mean", [0.2, 0.4, 0.9, 0.1], 6) == pytest.approx((0.4 + 0.9 + 0.1) / 3)


@pytest.mark.parametrize("bad", [{"loss_k0": 1.5}, {"loss_k0": float("nan")}, {"loss_k0": None}],
                         ids=["above-one", "nan", "missing"])
def test_invalid_candidates_are_refused_naming_the_knot(bad: dict) -> None:
    config = {f"{f}_k{k}": 0.5 for f in ("loss", "entropy") for k in range(5)}
    config.update({k: v for k, v in bad.items() if v is not None})
    if None in bad.values():
        del config["loss_k0"]
    with pytest.raises(InvalidCandidateError, match="loss_k0"):
        SamplerSpace(("loss", "entropy"), 4).decode(config)


def test_a_second_reference_round_trains_other_weights_under_their_own_cache_key(tmp_path) -> None:
    noisy = TaskSpec("digits", label_noise=0.4)
    data = load_task_data(noisy, 0)
    assert shared_weights_key(noisy, 0) == shared_weights_key(noisy, 0, rounds=1) != shared_weights_key(noisy, 0, 2)
    one, _ = shared_weights(noisy, data, 0, torch.device("cpu"), tmp_path)
    two, cached = shared_weights(noisy, data, 0, torch.device("cpu"), tmp_path, rounds=2)
    assert not cached and any(not torch.equal(one[k], two[k]) for k in one)
    again, cached_again = shared_weights(noisy, data, 0, torch.device("cpu"), tmp_path, rounds=2)
    assert cached_again and all(torch.equal(two[k], again[k]) for k in two)
    with pytest.raises(ValueError, match="at least 1"):
        train_shared_weights(noisy, data, 0, torch.device("cpu"), rounds=0)


def test_the_second_round_draws_rows_by_the_first_models_clean_probability(tmp_path) -> None:
    """Round 2 is round 1's recipe with rows drawn by P(clean) of round 1's training loss."""
    from workers.training import train as plain_train

    noisy = TaskSpec("digits", label_noise=0.4)
    data = load_task_data(noisy, 0)
    first = build_model(noisy, data, 0, torch.device("cpu"))
    first.load_state_dict(shared_weights(noisy, data, 0, torch.device("cpu"), tmp_path)[0])
    weights = clean_probability(features_from_logits(predict_logits(first, data.x_train), data.y_train, ("loss",))[:, 0])
    recipe = get_task("digits").recipe
    by_hand = build_model(noisy, data, 0, torch.device("cpu"))
    plain_train(by_hand, data.x_train, data.y_train, data.x_val, data.y_val, epochs=recipe.pretrain_epochs,
                lr=recipe.lr, recipe=recipe, seed=0, weights=weights)
    second, _ = shared_weights(noisy, data, 0, torch.device("cpu"), tmp_path, rounds=2)
    assert all(torch.equal(value, second[name]) for name, value in by_hand.state_dict().items())
    # Most of what round 2 draws is clean: P(clean) ranks the flipped rows low.
    flipped = data.train_flipped
    assert float((weights * flipped).sum() / weights.sum()) < 0.5 * float(flipped.float().mean())


def test_clean_probability_is_the_low_loss_components_posterior_with_a_floor() -> None:
    loss = torch.cat([torch.full((50,), 0.1), torch.full((50,), 0.12), torch.full((30,), 3.0), torch.full((30,), 3.2)])
    probability = clean_probability(loss)
    assert probability.dtype == torch.float32 and probability.shape == loss.shape
    assert torch.allclose(probability[:100], torch.ones(100), atol=1e-3)
    assert torch.equal(probability[100:], torch.full((60,), CLEAN_FLOOR))
    assert torch.equal(clean_probability(torch.full((10,), 0.7)), torch.ones(10))  # one value: nothing to tell apart
