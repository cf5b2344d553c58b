"""Task registry and the built-in loaders (arrays, Fashion-MNIST idx files)."""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from workers.tasks import TaskPaths, TaskSpec, UnknownTaskError, builtin, get_task, list_tasks, load_task_data
from workers.tasks.definition import TaskDataError


def test_builtin_tasks_are_registered() -> None:
    assert {"digits", "mnist1d", "fashion-mnist", "arrays"} <= {t.name for t in list_tasks()}


def test_unknown_task_lists_the_known_ones() -> None:
    with pytest.raises(UnknownTaskError, match="no task 'cifar'; known: arrays, digits"):
        get_task("cifar")


def write_arrays(directory: Path, name: str = "mine.npz", **extra) -> None:
    rng = np.random.default_rng(0)
    arrays = {"x_train": rng.normal(3.0, 2.0, (120, 2, 3)), "y_train": rng.integers(0, 3, 120),
              "x_test": rng.normal(3.0, 2.0, (30, 2, 3)), "y_test": rng.integers(0, 3, 30), **extra}
    np.savez(directory / name, **arrays)


def test_arrays_task_flattens_and_standardises_with_training_statistics(tmp_path) -> None:
    write_arrays(tmp_path)
    data = load_task_data(TaskSpec("arrays", data="mine.npz"), 0, TaskPaths(data_dir=tmp_path))
    assert data.input_shape == (6,) and data.num_classes == 3
    assert torch.allclose(data.x_train.mean(0), torch.zeros(6), atol=0.2)
    assert len(data.y_train) + len(data.y_val) == 120 and len(data.y_test) == 30


def test_arrays_task_uses_the_shipped_validation_split(tmp_path) -> None:
    rng = np.random.default_rng(1)
    write_arrays(tmp_path, x_val=rng.normal(size=(17, 2, 3)), y_val=rng.integers(0, 3, 17))
    data = load_task_data(TaskSpec("arrays", data="mine.npz"), 0, TaskPaths(data_dir=tmp_path))
    assert len(data.y_val) == 17 and len(data.y_train) == 120


@pytest.mark.parametrize("path", ["../outside.npz", "/etc/passwd", "link.npz"], ids=["dotdot", "absolute", "symlink"])
def test_data_files_outside_the_data_directory_are_refused(tmp_path, path: str) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    write_arrays(tmp_path, "outside.npz")
    os.symlink(tmp_path / "outside.npz", data_dir / "link.npz")
    with pytest.raises(TaskDataError, match="outside the data directory"):
        load_task_data(TaskSpec("arrays", data=path), 0, TaskPaths(data_dir=data_dir))


def test_object_arrays_are_refused_rather_than_unpickled(tmp_path) -> None:
    np.savez(tmp_path / "evil.npz", x_train=np.array([{"a": 1}], dtype=object), y_train=np.array([0]),
             x_test=np.zeros((1, 2)), y_test=np.array([0]))
    with pytest.raises(TaskDataError, match="not a readable .npz"):
        load_task_data(TaskSpec("arrays", data="evil.npz"), 0, TaskPaths(data_dir=tmp_path))


def test_missing_arrays_are_named(tmp_path) -> None:
    np.savez(tmp_path / "half.npz", x_train=np.zeros((4, 2)), y_train=np.zeros(4, dtype=np.int64))
    with pytest.raises(TaskDataError, match="missing array\\(s\\) x_test, y_test"):
        load_task_data(TaskSpec("arrays", data="half.npz"), 0, TaskPaths(data_dir=tmp_path))


def test_arrays_without_a_file_say_how_to_pass_one(tmp_path) -> None:
    with pytest.raises(TaskDataError, match="--data FILE"):
        load_task_data(TaskSpec("arrays"), 0, TaskPaths(data_dir=tmp_path))


def write_idx(path: Path, array: np.ndarray) -> None:
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


def test_fashion_mnist_reads_idx_files_from_the_data_directory(tmp_path, monkeypatch) -> None:
    directory = tmp_path / "fashion-mnist"
    directory.mkdir()
    rng = np.random.default_rng(0)
    write_idx(directory / "train-images-idx3-ubyte.gz", rng.integers(0, 256, (240, 28, 28)))
    write_idx(directory / "train-labels-idx1-ubyte.gz", np.arange(240) % 10)
    write_idx(directory / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (20, 28, 28)))
    write_idx(directory / "t10k-labels-idx1-ubyte.gz", np.arange(20) % 10)
    data = load_task_data(TaskSpec("fashion-mnist"), 0, TaskPaths(data_dir=tmp_path))
    assert data.input_shape == (1, 28, 28) and len(data.y_test) == 20 and data.num_classes == 10
    assert float(data.x_train.mean()) == pytest.approx(0.0, abs=1e-4)


def test_missing_fashion_mnist_says_how_to_install_it(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(builtin, "FASHION_MNIST_SYSTEM_DIR", tmp_path / "absent")
    with pytest.raises(TaskDataError, match="apt-get install -y dataset-fashion-mnist"):
        load_task_data(TaskSpec("fashion-mnist"), 0, TaskPaths(data_dir=tmp_path))


@pytest.mark.skipif(not builtin.FASHION_MNIST_SYSTEM_DIR.is_dir(),
                    reason="Debian's dataset-fashion-mnist is not installed (.ci/run installs it)")
def test_real_fashion_mnist_has_its_published_sizes(tmp_path) -> None:
    raw = builtin.load_fashion_mnist_data(TaskSpec("fashion-mnist"), TaskPaths(data_dir=tmp_path))
    assert raw.x_train.shape == (60000, 1, 28, 28) and raw.x_test.shape == (10000, 1, 28, 28)
    assert set(np.unique(raw.y_train)) == set(range(10))


def test_mnist1d_is_generated_offline_with_its_documented_sizes() -> None:
    raw = builtin.load_mnist1d_data(TaskSpec("mnist1d"), TaskPaths())
    assert raw.x_train.shape == (9600, 40) and raw.x_test.shape == (2400, 40)


def test_mnist1d_is_cached_on_disk_and_reloads_identically(tmp_path) -> None:
    paths = TaskPaths(cache_dir=tmp_path)
    builtin._mnist1d_arrays.cache_clear()
    generated = builtin.load_mnist1d_data(TaskSpec("mnist1d"), paths)
    assert (tmp_path / "datasets" / "mnist1d-12000-seed42.npz").is_file()
    builtin._mnist1d_arrays.cache_clear()
    reloaded = builtin.load_mnist1d_data(TaskSpec("mnist1d"), paths)
    assert np.array_equal(generated.x_train, reloaded.x_train) and np.array_equal(generated.y_test, reloaded.y_test)
    builtin._mnist1d_arrays.cache_clear()


@pytest.mark.parametrize("name", ["loop.npz", "a\x00b.npz", "x" * 300], ids=["symlink-loop", "nul", "long-name"])
def test_unresolvable_data_paths_are_task_data_errors(tmp_path, name: str) -> None:
    os.symlink(tmp_path / "loop.npz", tmp_path / "loop.npz")
    with pytest.raises(TaskDataError):
        load_task_data(TaskSpec("arrays", data=name), 0, TaskPaths(data_dir=tmp_path))
