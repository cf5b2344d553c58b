"""Deterministic perturbations of a training split: long-tail imbalance and label noise.

Both take a numpy ``Generator`` so that the result is a pure function of the seed.
"""

from __future__ import annotations

import numpy as np


def long_tail_subset(labels: np.ndarray, ratio: float, rng: np.random.Generator) -> np.ndarray:
    """Indices (sorted) of a long-tailed subset: class of rank r (by class id, 0..C-1) keeps
    ``round(n_r * ratio ** (-r / (C - 1)))`` of its ``n_r`` samples, at least one.

    ``ratio = 1`` keeps everything.
    """
    classes = np.unique(labels)
    if ratio == 1.0 or len(classes) < 2:
        return np.arange(len(labels))
    kept = []
    for rank, label in enumerate(classes):
        members = np.flatnonzero(labels == label)
        count = max(1, int(round(len(members) * ratio ** (-rank / (len(classes) - 1)))))
        kept.append(rng.choice(members, size=count, replace=False))
    return np.sort(np.concatenate(kept))


def flip_labels(
    labels: np.ndarray, fraction: float, kind: str, num_classes: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Flip exactly ``round(fraction * N)`` labels to a different class.

    ``kind="symmetric"``: the new label is uniform over the other ``C - 1`` classes.
    ``kind="asymmetric"``: class c becomes ``(c + 1) mod C`` (a class-pair flip).

    Returns:
        ``(noisy_labels, flipped)`` with ``flipped`` a boolean mask ``(N,)``.
    """
    noisy = labels.copy()
    flipped = np.zeros(len(labels), dtype=bool)
    count = int(round(fraction * len(labels)))
    if count == 0:
        return noisy, flipped
    chosen = rng.choice(len(labels), size=count, replace=False)
    if kind == "symmetric":
        offset = rng.integers(1, num_classes, size=count)
    elif kind == "asymmetric":
        offset = np.ones(count, dtype=np.int64)
    else:
        raise ValueError(f"noise kind must be 'symmetric' or 'asymmetric', got {kind!r}")
    noisy[chosen] = (labels[chosen] + offset) % num_classes
    flipped[chosen] = True
    return noisy, flipped
