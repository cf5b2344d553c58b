"""The reference model's view of the training set: shared weights (cached) and static features.

Shared weights are E_o epochs of uniform training from a seeded initialisation (round 1). With
``rounds`` > 1 each further round trains the model again from the same initialisation for E_o
epochs, drawing rows by their probability of being clean under the previous round's model
(:func:`clean_probability` of its training loss): a model that learnt from fewer flipped labels
tells them apart better (AUC at flagging them 0.891 after round 1, 0.902 after round 2 on
mnist1d with 40% symmetric noise, ``bench/results/reachable_gain-*.md``). The weights are cached
on disk by a hash of everything that determines them (task spec, recipe, seed, rounds, format
version), so repeated jobs and ``evaluate`` reuse them. ``reference_outputs`` bundles what a job needs from the
reference model so that it can run in the driver or, on a cluster, as one Ray task on a worker
(a GPU when the job asks for one).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sklearn.mixture import GaussianMixture
from torch import Tensor, nn

from sampler_space.features import cross_entropy_loss, features_from_logits, gradient_norm_proxy, predict_logits
from sampler_space.transforms import FittedTransform, fit_transform
from workers.tasks import TaskData, TaskSpec, get_task
from workers.training import pick_device, train

_CACHE_FORMAT = 1
#: the least weight a row gets in a later round: no row is left out of the reference model for good
CLEAN_FLOOR = 0.05


def shared_weights_key(spec: TaskSpec, seed: int, rounds: int = 1) -> str:
    """Hex digest identifying the shared weights of ``(spec, seed)`` after ``rounds`` rounds under
    the task's recipe (one round keeps the key it had before rounds existed)."""
    task = get_task(spec.name)
    identity = {"format": _CACHE_FORMAT, "spec": spec.to_dict(), "seed": seed, "recipe": task.recipe.to_dict()}
    if rounds != 1:
        identity["rounds"] = rounds
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:24]


def clean_probability(loss: Tensor) -> Tensor:
    """``(N,)`` float32 on ``loss``'s device: each row's posterior probability of belonging to the
    lower-loss component of a two-component Gaussian mixture fitted to the per-row losses
    ``(N,)`` (DivideMix's rule for telling clean labels from flipped ones), at least
    :data:`CLEAN_FLOOR`. Losses with fewer than two distinct values carry no such information:
    every row gets 1."""
    values = loss.detach().double().cpu().numpy().reshape(-1, 1)
    if len(np.unique(values)) < 2:
        return torch.ones_like(loss, dtype=torch.float32)
    mixture = GaussianMixture(2, random_state=0).fit(values)
    clean = int(np.argmin(mixture.means_.ravel()))
    probability = torch.from_numpy(mixture.predict_proba(values)[:, clean]).float()
    return probability.nan_to_num(1.0).clamp_min(CLEAN_FLOOR).to(loss.device)


def build_model(spec: TaskSpec, data: TaskData, seed: int, device: torch.device) -> nn.Module:
    """The task's model with a seeded initialisation, on ``device``."""
    torch.manual_seed(seed)
    return get_task(spec.name).build_model(data.input_shape, data.num_classes).to(device)


def _trained(spec: TaskSpec, data: TaskData, seed: int, device: torch.device, weights: Tensor | None) -> nn.Module:
    """The task's model after E_o epochs from ``seed``'s initialisation, rows drawn by ``weights`` (``None``: uniform)."""
    recipe = get_task(spec.name).recipe
    model = build_model(spec, data, seed, device)
    train(model, data.x_train.to(device), data.y_train.to(device), data.x_val.to(device), data.y_val.to(device),
          epochs=recipe.pretrain_epochs, lr=recipe.lr, recipe=recipe, seed=seed, weights=weights)
    return model


def next_round(spec: TaskSpec, data: TaskData, seed: int, device: torch.device,
               previous: dict[str, Tensor]) -> dict[str, Tensor]:
    """The round after the one whose CPU state dict is ``previous``: E_o epochs from ``seed``'s
    initialisation, rows drawn by :func:`clean_probability` of ``previous``'s training loss."""
    model = build_model(spec, data, seed, device)
    model.load_state_dict(previous)
    loss = cross_entropy_loss(predict_logits(model, data.x_train.to(device)), data.y_train.to(device))
    refined = _trained(spec, data, seed, device, clean_probability(loss))
    return {name: value.detach().cpu() for name, value in refined.state_dict().items()}


def train_shared_weights(spec: TaskSpec, data: TaskData, seed: int, device: torch.device,
                         rounds: int = 1) -> dict[str, Tensor]:
    """``rounds`` rounds of E_o epochs each (see the module docstring); returns a CPU state dict."""
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, got {rounds}")
    state = {name: value.detach().cpu() for name, value in _trained(spec, data, seed, device, None).state_dict().items()}
    for _ in range(rounds - 1):
        state = next_round(spec, data, seed, device, state)
    return state


def shared_weights_path(spec: TaskSpec, seed: int, cache_dir: Path, rounds: int = 1) -> Path:
    """Where the shared weights of ``(spec, seed)`` after ``rounds`` rounds are cached under ``cache_dir``."""
    return cache_dir / "shared-weights" / f"{spec.name}-{shared_weights_key(spec, seed, rounds)}.pt"


def shared_weights(
    spec: TaskSpec, data: TaskData, seed: int, device: torch.device, cache_dir: Path, rounds: int = 1
) -> tuple[dict[str, Tensor], bool]:
    """Shared weights of ``(spec, seed)`` after ``rounds`` rounds, cached under
    ``cache_dir/shared-weights``: ``(cpu_state_dict, was_cached)``."""
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, got {rounds}")
    path = shared_weights_path(spec, seed, cache_dir, rounds)
    directory = path.parent
    if path.is_file():
        return torch.load(path, map_location="cpu", weights_only=True), True
    if rounds > 1:  # each round is cached, so a later one starts from the earlier one's file
        state = next_round(spec, data, seed, device, shared_weights(spec, data, seed, device, cache_dir, rounds - 1)[0])
    else:
        state = train_shared_weights(spec, data, seed, device)
    directory.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.partial")
    torch.save(state, partial)
    partial.replace(path)
    return state, False


@dataclass(frozen=True)
class StaticFeatures:
    """Raw features ``(N, F)`` float32 of the training set, their names, and the gradient-norm
    proxy ``(N,)`` the ``cgf`` transform weighs samples by. CPU tensors."""

    names: tuple[str, ...]
    raw: Tensor
    gradient_proxy: Tensor


def static_features(model: nn.Module, data: TaskData, names: Sequence[str]) -> StaticFeatures:
    """Features of every training sample under the reference ``model`` (eval mode)."""
    logits = predict_logits(model, data.x_train)
    labels = data.y_train.to(logits.device)
    raw = features_from_logits(logits, labels, names)
    return StaticFeatures(tuple(names), raw.cpu(), gradient_norm_proxy(logits, labels).cpu())


@torch.no_grad()
def penultimate_features(model: nn.Module, inputs: Tensor, batch_size: int = 4096) -> Tensor:
    """``(N, D)`` inputs of the model's last ``nn.Linear`` layer (its penultimate features), eval mode."""
    last = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    captured: list[Tensor] = []
    handle = last.register_forward_hook(lambda _m, args, _out: captured.append(args[0].detach()))
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(inputs), batch_size):
            model(inputs[start : start + batch_size].to(device))
    finally:
        handle.remove()
        model.train(was_training)
    return torch.cat(captured).flatten(1).cpu()


def fit_transforms(features: StaticFeatures, kind: str) -> tuple[FittedTransform, ...]:
    """One transform of ``kind`` per feature, fitted on the training set."""
    return tuple(fit_transform(kind, features.raw[:, n], features.gradient_proxy) for n in range(len(features.names)))


@dataclass(frozen=True)
class ReferenceOutputs:
    """What a job takes from its reference model, as CPU tensors: the shared weights, whether they
    came from the cache, the static features (if asked), the penultimate-layer keys (if asked)
    and the device that computed them (``"cuda"`` or ``"cpu"``)."""

    state: dict[str, Tensor]
    cached: bool
    features: StaticFeatures | None
    keys: Tensor | None
    device: str


def reference_outputs(
    spec: TaskSpec, data: TaskData, seed: int, cache_dir: Path, feature_names: Sequence[str] = (),
    want_keys: bool = False, want_gpu: bool = False, rounds: int = 1,
) -> ReferenceOutputs:
    """Shared weights of ``(spec, seed)`` after ``rounds`` rounds (cached under ``cache_dir``)
    and, from the model they give, the static features ``feature_names`` and (``want_keys``) the
    penultimate features. Runs on CUDA when ``want_gpu`` and one is visible, otherwise on the CPU."""
    device = pick_device(want_gpu)
    state, cached = shared_weights(spec, data, seed, device, cache_dir, rounds)
    model = build_model(spec, data, seed, device)
    model.load_state_dict(state)
    features = static_features(model, data, feature_names) if feature_names else None
    keys = penultimate_features(model, data.x_train) if want_keys else None
    return ReferenceOutputs(state, cached, features, keys, device.type)
