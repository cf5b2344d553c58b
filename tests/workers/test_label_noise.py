"""Label noise and imbalance: exact, deterministic, on the training split only."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from workers.tasks import TaskSpec, load_task_data
from workers.tasks.perturbation import flip_labels, long_tail_subset


@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.4, 0.75])
@pytest.mark.parametrize("kind", ["symmetric", "asymmetric"])
def test_exactly_the_requested_fraction_is_flipped_to_another_class(fraction: float, kind: str) -> None:
    labels = np.random.default_rng(0).integers(0, 10, 1001)
    noisy, flipped = flip_labels(labels, fraction, kind, 10, np.random.default_rng(1))
    assert flipped.sum() == round(fraction * 1001)
    assert (noisy[flipped] != labels[flipped]).all() and (noisy[~flipped] == labels[~flipped]).all()


def test_asymmetric_noise_maps_each_class_to_the_next() -> None:
    labels = np.arange(10).repeat(50)
    noisy, flipped = flip_labels(labels, 0.3, "asymmetric", 10, np.random.default_rng(2))
    assert ((noisy[flipped] - labels[flipped]) % 10 == 1).all()


def test_symmetric_noise_spreads_over_all_other_classes() -> None:
    labels = np.zeros(5000, dtype=np.int64)
    noisy, flipped = flip_labels(labels, 0.9, "symmetric", 10, np.random.default_rng(3))
    counts = np.bincount(noisy[flipped], minlength=10)
    assert counts[0] == 0 and counts[1:].min() > 0.8 * counts[1:].mean()


def test_long_tail_subset_has_the_requested_ratio() -> None:
    labels = np.arange(10).repeat(200)
    kept = long_tail_subset(labels, 10.0, np.random.default_rng(0))
    counts = np.bincount(labels[kept], minlength=10)
    assert counts[0] == 200 and counts[-1] == 20 and (np.diff(counts) <= 0).all()


def test_task_noise_is_exact_over_train_and_validation_and_leaves_test_untouched() -> None:
    clean = load_task_data(TaskSpec("digits"), 4)
    noisy = load_task_data(TaskSpec("digits", label_noise=0.3), 4)
    assert torch.equal(noisy.x_train, clean.x_train) and torch.equal(noisy.x_val, clean.x_val)
    flipped = int((noisy.y_train != clean.y_train).sum() + (noisy.y_val != clean.y_val).sum())
    assert flipped == round(0.3 * (len(clean.y_train) + len(clean.y_val)))
    assert torch.equal(noisy.train_flipped, noisy.y_train != clean.y_train)
    assert torch.equal(noisy.y_test, clean.y_test) and torch.equal(noisy.x_test, clean.x_test)


def test_clean_validation_keeps_true_validation_labels_and_the_same_noisy_training_split() -> None:
    clean = load_task_data(TaskSpec("digits"), 4)
    noisy = load_task_data(TaskSpec("digits", label_noise=0.3), 4)
    trusted = load_task_data(TaskSpec("digits", label_noise=0.3, clean_validation=True), 4)
    assert bool((noisy.y_val != clean.y_val).any())
    assert torch.equal(trusted.y_val, clean.y_val) and torch.equal(trusted.x_val, clean.x_val)
    assert torch.equal(trusted.y_train, noisy.y_train) and torch.equal(trusted.train_flipped, noisy.train_flipped)


def test_train_size_takes_a_seeded_subset_of_the_training_split_before_the_validation_carve_out() -> None:
    full = load_task_data(TaskSpec("digits"), 4)
    subset = load_task_data(TaskSpec("digits", train_size=500), 4)
    again = load_task_data(TaskSpec("digits", train_size=500), 4)
    other = load_task_data(TaskSpec("digits", train_size=500), 5)
    assert len(subset.y_train) + len(subset.y_val) == 500
    assert set(subset.train_rows.tolist()) < set(full.train_rows.tolist()) | set(full.val_rows.tolist())
    assert np.array_equal(subset.train_rows, again.train_rows) and not np.array_equal(subset.train_rows, other.train_rows)
    assert torch.equal(subset.y_test, full.y_test)
    assert len(load_task_data(TaskSpec("digits", train_size=10**6), 4).y_train) == len(full.y_train)


def test_test_split_is_the_same_for_every_seed() -> None:
    first, second = load_task_data(TaskSpec("digits", label_noise=0.2), 0), load_task_data(TaskSpec("digits"), 9)
    assert torch.equal(first.y_test, second.y_test)


def test_same_seed_same_data_other_seed_other_noise() -> None:
    spec = TaskSpec("digits", label_noise=0.4)
    a, b, c = load_task_data(spec, 1), load_task_data(spec, 1), load_task_data(spec, 2)
    assert torch.equal(a.y_train, b.y_train) and torch.equal(a.x_train, b.x_train)
    assert not torch.equal(a.train_flipped, c.train_flipped)


def test_imbalance_applies_to_the_training_split_only() -> None:
    data = load_task_data(TaskSpec("digits", imbalance=5.0), 0)
    counts = torch.bincount(torch.cat([data.y_train, data.y_val]), minlength=10).float()
    assert 4.0 < float(counts.max() / counts.min()) < 6.5
    assert len(data.y_test) == len(load_task_data(TaskSpec("digits"), 0).y_test)


@pytest.mark.parametrize("spec", [dict(label_noise=1.0), dict(label_noise=-0.1), dict(imbalance=0.5),
                                  dict(noise_kind="pairwise")])
def test_bad_perturbations_are_refused(spec: dict) -> None:
    with pytest.raises(ValueError):
        TaskSpec("digits", **spec)
