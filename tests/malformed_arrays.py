"""Malformed and degenerate ``.npz`` files for the ``arrays`` task, each with the phrase its
error must contain. Shared by the loader, CLI and REST tests (table-driven)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np


def good_arrays(n_train: int = 120, n_test: int = 40, classes: int = 3, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"x_train": rng.normal(size=(n_train, 4)), "y_train": np.arange(n_train) % classes,
            "x_test": rng.normal(size=(n_test, 4)), "y_test": np.arange(n_test) % classes}


def _with(**changes) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        np.savez(path, **(good_arrays() | changes))
    return write


def _bytes(content: bytes) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(content)


def _npy(path: Path) -> None:
    with path.open("wb") as handle:
        np.save(handle, np.zeros((10, 4)))


_ROWS = np.random.default_rng(1).normal(size=(120, 4))

#: name -> (writer of the file, phrase its one-sentence error contains)
MALFORMED_ARRAYS: dict[str, tuple[Callable[[Path], None], str]] = {
    "one-training-sample": (_with(x_train=np.zeros((1, 4)), y_train=np.array([0])), "y_train has a single class"),
    "two-training-samples": (_with(x_train=_ROWS[:2], y_train=np.array([0, 1]), y_test=np.arange(40) % 2),
                             "fewer than the 20 needed"),
    "zero-d-x": (_with(x_train=np.array(3.0)), "x_train is a 0-D array"),
    "npy-saved-as-npz": (_npy, "it is a single .npy array"),
    "test-feature-mismatch": (_with(x_test=np.zeros((40, 5))), "x_test has samples of shape (5,)"),
    "two-d-y": (_with(y_train=np.zeros((120, 2), dtype=np.int64)), "y_train must be 1-D"),
    "label-2-to-the-40": (_with(y_train=np.where(np.arange(120) == 0, 2**40, np.arange(120) % 3)),
                          "holds the label 1099511627776"),
    "uint64-label-above-2-to-the-63": (
        _with(y_train=np.where(np.arange(120) == 0, np.uint64(2**63 + 5), np.arange(120, dtype=np.uint64) % 3)),
        "holds the label 9223372036854775813"),
    "label-100000": (_with(y_train=np.where(np.arange(120) == 0, 100_000, np.arange(120) % 3)),
                     "holds the label 100000"),
    "sparse-labels": (_with(y_train=np.arange(120) % 3 * 5), "never occur in y_train"),
    "single-class": (_with(y_train=np.zeros(120, dtype=np.int64)), "single class"),
    "test-class-unseen-in-training": (_with(y_test=np.full(40, 7)), "y_test holds the label 7"),
    "negative-label": (_with(y_test=-np.ones(40, dtype=np.int64)), "negative label -1"),
    "float-labels": (_with(y_train=np.zeros(120)), "integer class labels"),
    "nan-feature": (_with(x_train=np.where(np.arange(480).reshape(120, 4) == 7, np.nan, _ROWS)), "NaN or infinite"),
    "complex-features": (_with(x_train=_ROWS.astype(np.complex64)), "real numbers"),
    "constant-features": (_with(x_train=np.ones((120, 4))), "x_train is constant"),
    "variance-overflows-float64": (_with(x_train=_ROWS * 1e300), "overflows float64"),
    "test-overflows-float32": (_with(x_test=np.full((40, 4), 1e300)), "x_test overflows float32"),
    "rows-and-labels-disagree": (_with(y_train=np.arange(119) % 3), "x_train has 120 rows but y_train has 119"),
    "tiny-test-split": (_with(x_test=_ROWS[:5], y_test=np.arange(5) % 3), "test split has 5 samples"),
    "missing-array": (lambda path: np.savez(path, x_train=_ROWS, y_train=np.arange(120) % 3), "missing array(s)"),
    "junk-file": (_bytes(b"this is not an archive at all\n" * 10), "not an .npz archive"),
    "empty-file": (_bytes(b""), "the file is empty"),
    "truncated-archive": (lambda path: (_with()(path), path.write_bytes(path.read_bytes()[:300])), "not an .npz"),
}
