"""The arrays task refuses malformed or degenerate data with one sentence, before any training;
statistics that overflow float32 are computed in float64 instead of collapsing to zeros."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from malformed_arrays import MALFORMED_ARRAYS, good_arrays

from workers.tasks import TaskPaths, TaskSpec, load_task_data
from workers.tasks.definition import TaskDataError


@pytest.mark.parametrize("case", sorted(MALFORMED_ARRAYS))
def test_malformed_arrays_are_refused_with_one_sentence(tmp_path, case: str) -> None:
    write, phrase = MALFORMED_ARRAYS[case]
    write(tmp_path / "bad.npz")
    with pytest.raises(TaskDataError) as raised:
        load_task_data(TaskSpec("arrays", data="bad.npz"), 0, TaskPaths(data_dir=tmp_path))
    message = str(raised.value)
    assert phrase in message and "\n" not in message and len(message) < 400


def test_the_table_holds_every_case_the_test_pass_reported() -> None:
    reported = {"one-training-sample", "two-training-samples", "zero-d-x", "npy-saved-as-npz", "test-feature-mismatch",
                "two-d-y", "label-2-to-the-40", "uint64-label-above-2-to-the-63", "label-100000", "single-class",
                "junk-file", "empty-file"}
    assert reported <= set(MALFORMED_ARRAYS)


@pytest.mark.parametrize("scale", [1e30, 1e-30], ids=["huge", "tiny"])
def test_features_of_any_finite_scale_standardise_to_unit_variance(tmp_path, scale: float) -> None:
    arrays = good_arrays()
    arrays["x_train"], arrays["x_test"] = arrays["x_train"] * scale, arrays["x_test"] * scale
    np.savez(tmp_path / "scaled.npz", **arrays)
    data = load_task_data(TaskSpec("arrays", data="scaled.npz"), 0, TaskPaths(data_dir=tmp_path))
    assert np.allclose(data.x_train.std(0, correction=0).numpy(), 1.0, atol=1e-3)
    assert np.isfinite(data.x_test.numpy()).all() and data.x_test.abs().max() < 10


def test_one_huge_row_does_not_zero_the_other_features(tmp_path) -> None:
    arrays = good_arrays()
    arrays["x_train"][0, 0] = 3e38
    np.savez(tmp_path / "outlier.npz", **arrays)
    data = load_task_data(TaskSpec("arrays", data="outlier.npz"), 0, TaskPaths(data_dir=tmp_path))
    assert np.allclose(data.x_train[:, 1:].std(0, correction=0).numpy(), 1.0, atol=1e-3)


def test_uint64_and_bool_inputs_of_a_sound_file_load(tmp_path) -> None:
    arrays = good_arrays()
    arrays["y_train"], arrays["y_test"] = arrays["y_train"].astype(np.uint64), arrays["y_test"].astype(np.uint8)
    arrays["x_train"], arrays["x_test"] = arrays["x_train"] > 0, arrays["x_test"] > 0
    np.savez(tmp_path / "ok.npz", **arrays)
    data = load_task_data(TaskSpec("arrays", data="ok.npz"), 0, TaskPaths(data_dir=tmp_path))
    assert data.num_classes == 3 and data.y_train.dtype == torch.int64 and data.x_train.dtype == torch.float32
