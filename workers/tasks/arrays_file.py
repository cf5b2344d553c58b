"""The ``arrays`` task's file: a user's ``.npz``, read without unpickling and checked array by
array, so that every malformed file is refused with one sentence that names the array at fault."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from workers.tasks.definition import RawData, TaskDataError, TaskPaths, TaskSpec

REQUIRED_ARRAYS = ("x_train", "y_train", "x_test", "y_test")
OPTIONAL_ARRAYS = ("x_val", "y_val")
_NUMERIC_KINDS = "biuf"  # bool, signed, unsigned, floating: what a feature array may hold


def resolve_data_file(relative: str | None, data_dir: Path) -> Path:
    """The user's data file, which must resolve inside ``data_dir`` (symlinks included)."""
    if not relative:
        raise TaskDataError("the arrays task needs a data file: pass --data FILE (relative to the data directory)")
    root = data_dir.resolve()
    try:
        path = (root / relative).resolve()
    except (OSError, RuntimeError, ValueError) as error:  # a symlink loop, a NUL, a name too long
        raise TaskDataError(f"data file {relative[:100]!r} cannot be resolved in the data directory: "
                            f"{type(error).__name__}") from None
    if not path.is_relative_to(root):
        raise TaskDataError(f"data file {relative!r} resolves outside the data directory {root}; refused")
    try:
        found = path.is_file()
    except OSError as error:  # e.g. a name too long for the file system
        raise TaskDataError(f"data file {relative[:100]!r} cannot be read: {error.strerror}") from None
    if not found:
        raise TaskDataError(f"data file {relative[:100]!r} not found in the data directory {root}")
    return path


def read_npz(path: Path, shown_as: str) -> dict[str, np.ndarray]:
    """Every array of the ``.npz`` at ``path``; ``shown_as`` names the file in errors.

    Raises:
        TaskDataError: an empty file, a file that is not a zip archive (such as a ``.npy``
            renamed), a corrupt archive, or object arrays (refused rather than unpickled).
    """
    if path.stat().st_size == 0:
        raise TaskDataError(f"{shown_as}: the file is empty; expected an .npz written by numpy.savez")
    if not zipfile.is_zipfile(path):
        with path.open("rb") as handle:
            is_npy = handle.read(6) == b"\x93NUMPY"
        hint = "it is a single .npy array; save the splits with numpy.savez(path, x_train=..., ...)" if is_npy \
            else "expected an .npz written by numpy.savez"
        raise TaskDataError(f"{shown_as}: not an .npz archive ({hint})")
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except ValueError as error:  # object arrays, a bad header
        raise TaskDataError(f"{shown_as}: not a readable .npz of numeric arrays ({error})") from None
    except (OSError, EOFError, zipfile.BadZipFile, KeyError) as error:
        raise TaskDataError(f"{shown_as}: the .npz archive is corrupt ({type(error).__name__}: {error})") from None


def _check_split(name: str, x: np.ndarray, y: np.ndarray, shown_as: str) -> None:
    if x.ndim == 0:
        raise TaskDataError(f"{shown_as}: x_{name} is a 0-D array; it needs one row per sample")
    if y.ndim != 1:
        raise TaskDataError(f"{shown_as}: y_{name} must be 1-D (one class label per sample), got shape {y.shape}")
    if len(x) != len(y):
        raise TaskDataError(f"{shown_as}: x_{name} has {len(x)} rows but y_{name} has {len(y)} labels")
    if len(y) == 0:
        raise TaskDataError(f"{shown_as}: x_{name} and y_{name} are empty")
    if x.dtype.kind not in _NUMERIC_KINDS:
        raise TaskDataError(f"{shown_as}: x_{name} must hold real numbers, got dtype {x.dtype}")
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        raise TaskDataError(f"{shown_as}: x_{name} holds NaN or infinite values")
    if y.dtype.kind not in "iu":
        raise TaskDataError(f"{shown_as}: y_{name} must hold integer class labels, got dtype {y.dtype}")
    # Compared as Python ints: a uint64 label above 2**63 must not wrap to a negative int64.
    low, high = int(y.min()), int(y.max())
    if low < 0:
        raise TaskDataError(f"{shown_as}: y_{name} holds the negative label {low}; labels are 0..C-1")
    if high >= len(y) and name == "train":
        raise TaskDataError(f"{shown_as}: y_train holds the label {high} but only {len(y)} samples; "
                            "labels must be the class indices 0..C-1")


def load_arrays_data(spec: TaskSpec, paths: TaskPaths) -> RawData:
    """A user's ``.npz`` with ``x_train, y_train, x_test, y_test`` (optional ``x_val, y_val``).

    ``x_*`` are numeric with one row per sample (any trailing shape, flattened to float64 here
    so that standardising cannot overflow); ``y_*`` are 1-D non-negative integers. What a
    meaningful task needs beyond the format (sizes, classes, statistics) is checked by
    ``workers.tasks.checks`` for every task.
    """
    path = resolve_data_file(spec.data, paths.data_dir)
    shown_as = spec.data or str(path)
    arrays = read_npz(path, shown_as)
    missing = [k for k in REQUIRED_ARRAYS if k not in arrays]
    if missing:
        raise TaskDataError(f"{shown_as}: missing array(s) {', '.join(missing)}")
    if ("x_val" in arrays) != ("y_val" in arrays):
        raise TaskDataError(f"{shown_as}: x_val and y_val must come together")
    splits = [s for s in ("train", "val", "test") if f"x_{s}" in arrays]
    for split in splits:
        _check_split(split, arrays[f"x_{split}"], arrays[f"y_{split}"], shown_as)
    for split in splits[1:]:
        if arrays[f"x_{split}"].shape[1:] != arrays["x_train"].shape[1:]:
            raise TaskDataError(f"{shown_as}: x_{split} has samples of shape {arrays[f'x_{split}'].shape[1:]} "
                                f"but x_train's are {arrays['x_train'].shape[1:]}")
    as_x = lambda a: a.reshape(len(a), -1).astype(np.float64)  # noqa: E731
    as_y = lambda a: a.astype(np.int64)  # noqa: E731  (labels checked above: no wrap-around)
    has_val = "x_val" in arrays
    return RawData(as_x(arrays["x_train"]), as_y(arrays["y_train"]), as_x(arrays["x_test"]), as_y(arrays["y_test"]),
                   as_x(arrays["x_val"]) if has_val else None, as_y(arrays["y_val"]) if has_val else None)
