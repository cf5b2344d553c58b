"""Where a job's reference model (shared weights, static features, NWS keys) is computed.

On the embedded default (a local Ray and no GPU asked for) it runs in the job's driver process.
When the job asks for GPUs, or the service runs on a cluster (``ray_address``), it runs as one Ray
task with the job's per-trial resources, so that on a cluster the E_o epochs of shared-weights
training happen on a (GPU) worker instead of the controller's CPU.

Cache: the driver's ``cache_dir`` (absolute) is used everywhere; on a cluster every node must
see it at the same path (the compose file mounts one volume at ``/data``).
"""

from __future__ import annotations

import logging

import ray

from service.config import Settings
from service.spec import Resources
from workers.reference import ReferenceOutputs, reference_outputs
from workers.tasks import TaskData, TaskSpec

logger = logging.getLogger(__name__)


def runs_as_ray_task(resources: Resources, settings: Settings) -> bool:
    """True when the reference model is computed by a Ray task rather than in the driver."""
    return resources.gpu > 0 or settings.ray_address is not None


def compute_reference(
    spec: TaskSpec, data: TaskData, seed: int, resources: Resources, settings: Settings,
    feature_names: tuple[str, ...] = (), want_keys: bool = False, rounds: int = 1,
) -> ReferenceOutputs:
    """``reference_outputs`` (after ``rounds`` rounds) for a job, in the driver or as a Ray task
    (see the module docstring). Ray must already be initialised when ``runs_as_ray_task``."""
    cache_dir = settings.cache_dir.resolve()
    if not runs_as_ray_task(resources, settings):
        return reference_outputs(spec, data, seed, cache_dir, feature_names, want_keys, want_gpu=False, rounds=rounds)
    task = ray.remote(reference_outputs).options(num_cpus=resources.cpu, num_gpus=resources.gpu, max_retries=0,
                                                 name=f"reference model {spec.name}")
    outputs = ray.get(task.remote(spec, data, seed, cache_dir, feature_names, want_keys, want_gpu=resources.gpu > 0,
                                  rounds=rounds))
    logger.info("reference model for %s computed by a Ray task on %s (shared weights %s)", spec.name,
                outputs.device, "cached" if outputs.cached else "trained")
    return outputs
