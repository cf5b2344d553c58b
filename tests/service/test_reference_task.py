"""The reference model runs in the driver on the embedded default and as a Ray task on a cluster
(or when a job asks for GPUs); both give the same shared weights, features and keys."""

from __future__ import annotations

import pytest
import torch

from service.config import Settings
from service.jobs.reference import compute_reference, runs_as_ray_task
from service.spec import Resources
from workers.tasks import TaskSpec, load_task_data

SPEC = TaskSpec("digits", label_noise=0.2)


def test_the_reference_runs_in_the_driver_only_without_gpus_and_without_a_cluster(tmp_path) -> None:
    local = Settings(cache_dir=tmp_path)
    cluster = Settings(cache_dir=tmp_path, ray_address="10.0.0.1:6379")
    assert not runs_as_ray_task(Resources(cpu=1, gpu=0), local)
    assert runs_as_ray_task(Resources(cpu=1, gpu=0.25), local)
    assert runs_as_ray_task(Resources(cpu=1, gpu=0), cluster)


@pytest.mark.usefixtures("ray_cluster")
def test_a_ray_task_computes_what_the_driver_computes(tmp_path) -> None:
    import ray

    data = load_task_data(SPEC, 0)
    names = ("loss", "entropy")
    in_driver = compute_reference(SPEC, data, 0, Resources(cpu=1, gpu=0), Settings(cache_dir=tmp_path / "driver"),
                                  feature_names=names, want_keys=True)
    # The session's local Ray stands in for a cluster: any ray_address sends the work to a task.
    on_cluster = Settings(cache_dir=tmp_path / "unused", ray_address=ray.get_runtime_context().gcs_address)
    as_task = compute_reference(SPEC, data, 0, Resources(cpu=1, gpu=0), on_cluster, feature_names=names,
                                want_keys=True)
    assert not in_driver.cached and as_task.device == "cpu"
    assert in_driver.state.keys() == as_task.state.keys()
    for name, value in in_driver.state.items():
        torch.testing.assert_close(as_task.state[name], value)
    torch.testing.assert_close(as_task.features.raw, in_driver.features.raw)
    torch.testing.assert_close(as_task.keys, in_driver.keys)
    assert as_task.features.names == names and as_task.keys.shape[0] == len(data.y_train)


@pytest.mark.usefixtures("ray_cluster")
def test_an_error_inside_the_ray_task_is_stored_as_its_one_line_cause(tmp_path) -> None:
    import ray

    from service.errors import one_line

    data = load_task_data(SPEC, 0)
    on_cluster = Settings(cache_dir=tmp_path, ray_address=ray.get_runtime_context().gcs_address)
    with pytest.raises(Exception) as raised:
        compute_reference(SPEC, data, 0, Resources(cpu=1, gpu=0), on_cluster, feature_names=("no-such-feature",))
    full = str(raised.value)
    assert "Traceback" in full or "\x1b[" in full or full.count("\n") > 3  # what Ray's own text looks like
    line = one_line(raised.value)
    assert "\n" not in line and "\x1b" not in line and "no-such-feature" in line
    assert not line.startswith("RayTaskError"), line
