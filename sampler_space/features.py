"""Per-sample features of a reference model's predictions.

All functions take logits ``(N, C)`` (float, any device) and integer labels ``(N,)`` on the same
device and return float32 tensors ``(N,)`` on that device. Features are *static*: computed once per
job from the shared-weights model, as the Swift Sampler paper recommends.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

#: Feature names a sampler may use, in the order users usually list them.
FEATURE_NAMES: tuple[str, ...] = ("loss", "entropy", "softmax_entropy", "grad_norm")


class UnknownFeatureError(ValueError):
    """A feature name that :data:`FEATURE_NAMES` does not hold."""


def cross_entropy_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """Per-sample cross-entropy in nats, ``(N,)``."""
    return F.cross_entropy(logits.float(), labels, reduction="none")


def renormalised_entropy(logits: Tensor, labels: Tensor) -> Tensor:
    """Entropy (nats, divided by ``log(C - 1)`` so it lies in [0, 1]) of the softmax over the
    classes other than the label.

    A mislabelled sample that the model confidently assigns to one other class has high loss and
    low renormalised entropy; that cluster is what the searched sampler learns to drop.
    """
    logits = logits.float()
    num_classes = logits.shape[1]
    masked = logits.scatter(1, labels.view(-1, 1), float("-inf"))
    log_p = masked.log_softmax(dim=1)
    p = log_p.exp()
    entropy = -(p * log_p.nan_to_num(neginf=0.0)).sum(dim=1)
    return entropy / math.log(max(num_classes - 1, 2))


def softmax_entropy(logits: Tensor, labels: Tensor) -> Tensor:
    """Plain softmax entropy (nats, divided by ``log C``), ``(N,)``; ``labels`` is unused."""
    del labels
    log_p = logits.float().log_softmax(dim=1)
    return -(log_p.exp() * log_p).sum(dim=1) / math.log(max(logits.shape[1], 2))


def gradient_norm_proxy(logits: Tensor, labels: Tensor) -> Tensor:
    """``||softmax(z) - onehot(y)||_2``: the norm of the loss gradient w.r.t. the logits."""
    p = logits.float().softmax(dim=1)
    p = p - F.one_hot(labels, p.shape[1]).to(p.dtype)
    return p.norm(dim=1)


_FEATURE_FUNCTIONS = {
    "loss": cross_entropy_loss,
    "entropy": renormalised_entropy,
    "softmax_entropy": softmax_entropy,
    "grad_norm": gradient_norm_proxy,
}


def check_feature_names(names: Sequence[str]) -> None:
    """Raise :class:`UnknownFeatureError` naming the first unknown feature."""
    for name in names:
        if name not in _FEATURE_FUNCTIONS:
            raise UnknownFeatureError(f"unknown feature {name!r}; known: {', '.join(FEATURE_NAMES)}")


def features_from_logits(logits: Tensor, labels: Tensor, names: Sequence[str]) -> Tensor:
    """Stack the named features into ``(N, len(names))`` float32 on the logits' device."""
    check_feature_names(names)
    return torch.stack([_FEATURE_FUNCTIONS[n](logits, labels) for n in names], dim=1)


@torch.no_grad()
def predict_logits(model: nn.Module, inputs: Tensor, batch_size: int = 4096) -> Tensor:
    """Logits ``(N, C)`` of ``model`` in eval mode on ``inputs`` ``(N, ...)``, batched.

    Runs on the model's device; ``inputs`` are moved there batch by batch. The model's training
    mode is restored afterwards.
    """
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        chunks = [model(inputs[i : i + batch_size].to(device)) for i in range(0, len(inputs), batch_size)]
    finally:
        model.train(was_training)
    return torch.cat(chunks).float()


def features_from_model(
    model: nn.Module, inputs: Tensor, labels: Tensor, names: Sequence[str] = ("loss", "entropy"),
    batch_size: int = 4096,
) -> Tensor:
    """Features ``(N, len(names))`` of a reference model on ``(inputs, labels)``.

    This is the helper a user calls before applying an exported sampler to their own data.
    """
    logits = predict_logits(model, inputs, batch_size)
    return features_from_logits(logits, labels.to(logits.device), names)
