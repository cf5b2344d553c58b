"""Run one search job to the end: reference model, features, transforms, Ray Tune, SQL, export.

This is the job driver. It runs in one process per job (two ``Tuner.fit`` calls in one process
race inside Ray Tune). The store is the source of truth: a job that was interrupted resumes from
its finished trials (they seed the searcher; interrupted trials are re-run with their own points).
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ray
import torch
from ray import tune

from sampler_space.swift import parameter_names
from service.config import Settings
from service.export import sampler_context, sampler_document
from service.models import Job, utcnow
from service.recorder import TrialRecorder
from service.reference_task import compute_reference
from service.searchers import GpUcbSearcher, make_searcher
from service.searchers.factory import METRIC, MODE
from service.spec import JobSpec, Resources, StrategyJobSpec, parse_job_spec
from service.store import Store
from workers.reference import fit_transforms
from workers.tasks import get_task, load_task_data
from workers.trainable import FineTunePayload, fine_tune_trainable

logger = logging.getLogger(__name__)

# Progress is shown from the store; Tune's own console tables would only duplicate it.
os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")


class NoGpuError(RuntimeError):
    """The job asks for GPUs that the Ray cluster does not have."""


@dataclass(frozen=True)
class PreparedSearch:
    """Everything a job's trials share, computed once by the driver."""

    payload: FineTunePayload
    context: dict[str, Any]
    parameter_names: list[str]
    shared_weights_cached: bool


def prepare_search(spec: JobSpec, settings: Settings) -> PreparedSearch:
    """Load data, get (cached) shared weights and static features (``compute_reference``: in the
    driver, or as a Ray task when the job asks for GPUs or runs on a cluster), fit the transforms.
    Ray must be initialised first."""
    task_spec = spec.task.to_task_spec()
    task = get_task(task_spec.name)
    seed = spec.search.seed
    data = load_task_data(task_spec, seed, settings.data_dir)
    reference = compute_reference(task_spec, data, seed, spec.resources, settings,
                                  feature_names=tuple(spec.search.features))
    state, cached, features = reference.state, reference.cached, reference.features
    transforms = fit_transforms(features, spec.search.transform)
    transformed = torch.stack([t(features.raw[:, n]) for n, t in enumerate(transforms)], dim=1)
    payload = FineTunePayload(
        task_name=task_spec.name, input_shape=data.input_shape, num_classes=data.num_classes, recipe=task.recipe,
        shared_state=state, transformed_features=transformed, x_train=data.x_train, y_train=data.y_train,
        x_val=data.x_val, y_val=data.y_val, features=tuple(spec.search.features), segments=spec.search.segments,
        epsilon=spec.search.epsilon,
        fine_tune_epochs=spec.search.fine_tune_epochs or task.recipe.fine_tune_epochs,
        objective=spec.search.objective, seed=seed,
    )
    context = sampler_context(spec.search.features, spec.search.segments, spec.search.epsilon, transforms)
    return PreparedSearch(payload, context, parameter_names(spec.search.features, spec.search.segments), cached)


def pin_controller_threads(settings: Settings) -> None:
    """Once the job's own training (shared weights) is done, keep the controller's torch (GP
    fitting) to ``controller_threads`` so that it does not compete with local trials."""
    torch.set_num_threads(settings.controller_threads)


def check_reachable(address: str, timeout_s: float = 10.0) -> None:
    """Raise ``ConnectionError`` at once when nothing accepts TCP connections at ``host:port``
    (Ray's own connect waits minutes on a dead address). Other address forms are left to Ray."""
    host, separator, port = address.rpartition(":")
    if not separator or not host or not port.isdigit() or "://" in address:
        return
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as error:
        raise ConnectionError(f"no Ray cluster answers at {address}: {error}") from None


def join_cluster(address: str) -> Any:
    """``ray.init`` of a driver on the cluster at ``address`` (returns Ray's context).

    A dead address fails within seconds (``check_reachable``). Ray drivers connect through a Ray
    node on their own machine, so this machine must have joined the cluster first (``ray start
    --address=...``); the error says so instead of Ray's bare "Failed to connect"."""
    check_reachable(address)
    try:
        return ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
    except ConnectionError as error:
        raise ConnectionError(
            f"{error}. A Ray driver must run on a node of the cluster: run `ray start --address={address} "
            "--num-cpus=0 --num-gpus=0` on this machine first (the compose file's api service does), with the "
            "cluster's RAY_AUTH_MODE"
        ) from error


def ensure_ray(settings: Settings) -> None:
    """Connect to ``settings.ray_address`` or start a local Ray instance (no dashboard)."""
    if ray.is_initialized():
        return
    if settings.ray_address:
        join_cluster(settings.ray_address)
    else:
        # address="local" always starts a new instance, even if another Ray runs on this machine.
        ray.init(address="local", num_cpus=settings.num_cpus, include_dashboard=False, log_to_driver=False,
                 logging_level=logging.WARNING)


def check_resources(resources: Resources) -> None:
    """Fail fast when trials ask for more CPUs or GPUs than the cluster has (Tune would wait forever)."""
    available = ray.cluster_resources()
    if resources.gpu > 0 and available.get("GPU", 0.0) < resources.gpu:
        raise NoGpuError(
            f"resources.gpu={resources.gpu:g} but the Ray cluster has {available.get('GPU', 0.0):g} GPUs; "
            "use --gpus-per-trial 0 or join a cluster with GPU workers"
        )
    if available.get("CPU", 0.0) < resources.cpu:
        raise NoGpuError(f"resources.cpu={resources.cpu:g} exceeds the cluster's {available.get('CPU', 0.0):g} CPUs")


def _searcher_for(spec: JobSpec, names: list[str], finished: list, interrupted: list) -> tuple[Any, dict]:
    search = spec.search
    fresh = not finished and not interrupted
    search_alg, param_space = make_searcher(search.searcher, names, n_initial=search.initial, beta=search.ucb_beta,
                                            seed=search.seed, parallel=search.parallel,
                                            start_uniform=search.start_uniform and fresh)
    inner = getattr(search_alg, "searcher", None)
    if isinstance(inner, GpUcbSearcher):
        for trial in finished:
            inner.add_evaluated_point(trial.params, trial.metric if trial.status == "succeeded" else None,
                                      error=trial.status != "succeeded")
        inner.skip_initial_points(min(len(finished) + len(interrupted), search.initial))
        for trial in interrupted:
            inner.requeue({**trial.params, "_suggestion": trial.suggestion})
    return search_alg, param_space


def results_path(settings: Settings) -> str:
    """Ray Tune's storage path (absolute, as Tune requires)."""
    return str(Path(settings.results_dir).resolve())


def run_job(store: Store, job_id: int, settings: Settings, search_alg: Any = None) -> Job:
    """Drive job ``job_id`` (already in the store) of either kind to a final status; return its row.

    ``search_alg`` overrides a search job's searcher (tests use it to inject a failing point).
    Errors before or around the Tune run mark the job ``failed`` with the message; a failed trial
    only marks that trial.
    """
    job = store.get_job(job_id)
    spec = parse_job_spec(job.spec)
    store.update_job(job_id, status="running", started_at=job.started_at or utcnow(), error=None)
    try:
        if isinstance(spec, StrategyJobSpec):
            from service.strategy_jobs import run_strategy_trials

            ensure_ray(settings)
            check_resources(spec.resources)
            run_strategy_trials(store, job, spec, settings)
        else:
            _run_search(store, job_id, spec, settings, search_alg)
        return finish_job(store, job_id)
    except Exception as error:
        logger.exception("job %s failed", job_id)
        return store.update_job(job_id, status="failed", error=f"{type(error).__name__}: {error}", finished_at=utcnow())


def _run_search(store: Store, job_id: int, spec: JobSpec, settings: Settings, search_alg: Any) -> None:
    ensure_ray(settings)
    check_resources(spec.resources)
    prepared = prepare_search(spec, settings)
    pin_controller_threads(settings)
    store.update_job(job_id, sampler_context=prepared.context)
    trials = store.trials(job_id)
    finished = [t for t in trials if t.status in ("succeeded", "failed")]
    interrupted = [t for t in trials if t.status == "running"]
    done = {t.index for t in finished}
    free = [i for i in range(spec.search.trials) if i not in done]
    if free:
        _tune(store, job_id, spec, settings, prepared, finished, interrupted, free, search_alg)


def _tune(store: Store, job_id: int, spec: JobSpec, settings: Settings, prepared: PreparedSearch, finished: list,
          interrupted: list, free: list[int], search_alg: Any) -> None:
    if search_alg is None:
        search_alg, param_space = _searcher_for(spec, prepared.parameter_names, finished, interrupted)
    else:
        param_space = {}
    experiment = f"samplersearch-job-{job_id}"
    store.update_job(job_id, tune_experiment=experiment)
    trainable = tune.with_resources(tune.with_parameters(fine_tune_trainable, payload=prepared.payload),
                                    {"cpu": spec.resources.cpu, "gpu": spec.resources.gpu})
    tuner = tune.Tuner(
        trainable,
        param_space=param_space,
        tune_config=tune.TuneConfig(search_alg=search_alg, metric=METRIC, mode=MODE, num_samples=len(free),
                                    reuse_actors=True),
        run_config=tune.RunConfig(
            name=experiment, storage_path=results_path(settings), verbose=0,
            callbacks=[TrialRecorder(store.url, job_id, prepared.parameter_names, free, spec.search.searcher)],
            failure_config=tune.FailureConfig(max_failures=spec.search.max_failures),
        ),
    )
    tuner.fit()


def finish_job(store: Store, job_id: int) -> Job:
    """Close the job: best trial; failed when no trial succeeded or the run stopped early
    (e.g. Ctrl-C), with a message that says how to continue it."""
    trials = store.trials(job_id)
    spec = parse_job_spec(store.get_job(job_id).spec)
    expected = spec.search.trials if isinstance(spec, JobSpec) else spec.run.seeds
    done = sum(t.status in ("succeeded", "failed") for t in trials)
    if done < expected:
        return store.update_job(job_id, status="failed", finished_at=utcnow(),
                                error=f"interrupted after {done} of {expected} trials; "
                                      f"`samplersearch resume --job {job_id}` continues it")
    best = store.best_trial(job_id)
    if best is None:
        errors = [t.error for t in trials if t.error]
        reason = f"all {len(trials)} trials failed" + (f"; first error: {errors[0]}" if errors else "")
        return store.update_job(job_id, status="failed", error=reason, finished_at=utcnow())
    return store.update_job(job_id, status="succeeded", best_trial_index=best.index, finished_at=utcnow())


def job_sampler_document(store: Store, job_id: int, trial_index: int | None = None) -> dict[str, Any]:
    """The sampler JSON of the job's best trial (or of ``trial_index``)."""
    job = store.get_job(job_id)
    if job.kind != "search":
        raise LookupError(f"job {job_id} is a {job.kind} job; only search jobs produce a sampler")
    trial = store.best_trial(job_id) if trial_index is None else store.trial(job_id, trial_index)
    if trial is None or trial.status != "succeeded" or job.sampler_context is None:
        raise LookupError(f"job {job_id} has no finished trial" + ("" if trial_index is None else f" {trial_index}"))
    source = {"job_id": job_id, "trial_id": trial.index, "task": job.spec["task"]["name"], "metric": "val_accuracy",
              "objective": job.spec["search"].get("objective", "last"), "value": trial.metric,
              "seed": job.spec["search"].get("seed", 0)}
    return sampler_document(job.sampler_context, trial.params, source)


__all__ = ["NoGpuError", "job_sampler_document", "prepare_search", "run_job"]
