"""Per-sample features: loss, renormalised entropy, plain entropy, gradient-norm proxy."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sampler_space.features import (
    UnknownFeatureError,
    cross_entropy_loss,
    features_from_logits,
    features_from_model,
    gradient_norm_proxy,
    renormalised_entropy,
    softmax_entropy,
)


def test_loss_is_per_sample_cross_entropy() -> None:
    logits, labels = torch.randn(20, 5), torch.randint(0, 5, (20,))
    assert torch.allclose(cross_entropy_loss(logits, labels), F.cross_entropy(logits, labels, reduction="none"))


def test_renormalised_entropy_is_one_when_the_other_classes_are_equally_likely() -> None:
    logits = torch.tensor([[5.0, 1.0, 1.0, 1.0]])
    assert float(renormalised_entropy(logits, torch.tensor([0]))) == pytest.approx(1.0)


def test_mislabelled_sample_has_high_loss_and_low_renormalised_entropy() -> None:
    # The model is sure the sample is class 2, but the label says 0.
    confident_other = torch.tensor([[0.0, 0.0, 8.0, 0.0]])
    hard_but_clean = torch.tensor([[1.0, 1.2, 1.1, 0.9]])
    label = torch.tensor([0])
    assert float(cross_entropy_loss(confident_other, label)) > float(cross_entropy_loss(hard_but_clean, label))
    assert float(renormalised_entropy(confident_other, label)) < 0.1 < float(renormalised_entropy(hard_but_clean, label))


def test_entropies_lie_in_the_unit_interval() -> None:
    logits, labels = torch.randn(500, 10) * 4, torch.randint(0, 10, (500,))
    for values in (renormalised_entropy(logits, labels), softmax_entropy(logits, labels)):
        assert float(values.min()) >= 0 and float(values.max()) <= 1 + 1e-6
        assert torch.isfinite(values).all()


def test_gradient_norm_proxy_is_the_norm_of_softmax_minus_onehot() -> None:
    logits, labels = torch.randn(30, 4), torch.randint(0, 4, (30,))
    expected = (logits.softmax(1) - F.one_hot(labels, 4)).norm(dim=1)
    assert torch.allclose(gradient_norm_proxy(logits, labels), expected)
    assert float(gradient_norm_proxy(torch.tensor([[50.0, 0.0]]), torch.tensor([0]))) < 1e-6
    assert float(gradient_norm_proxy(torch.tensor([[0.0, 50.0]]), torch.tensor([0]))) == pytest.approx(math.sqrt(2))


def test_features_stack_in_the_requested_order() -> None:
    logits, labels = torch.randn(8, 3), torch.randint(0, 3, (8,))
    stacked = features_from_logits(logits, labels, ["grad_norm", "loss"])
    assert stacked.shape == (8, 2) and torch.allclose(stacked[:, 1], cross_entropy_loss(logits, labels))


def test_unknown_feature_names_the_known_ones() -> None:
    with pytest.raises(UnknownFeatureError, match="known: loss, entropy"):
        features_from_logits(torch.randn(2, 3), torch.tensor([0, 1]), ["margin"])


def test_features_from_model_runs_the_model_in_eval_mode_and_restores_training() -> None:
    model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.9), nn.Linear(8, 3))
    model.train()
    x, y = torch.randn(50, 4), torch.randint(0, 3, (50,))
    first = features_from_model(model, x, y, batch_size=7)
    second = features_from_model(model, x, y, batch_size=50)
    assert torch.allclose(first, second, atol=1e-6) and model.training
