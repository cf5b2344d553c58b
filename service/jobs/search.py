"""A search job: prepare what its trials share, warm-start the searcher from the store, run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import torch
from ray import tune
from torch import Tensor

from sampler_space.space import SamplerSpace
from sampler_space.swift import transform_features
from service.config import Settings
from service.jobs.export import sampler_context
from service.jobs.reference import compute_reference
from service.jobs.tuning import TrialRun, run_trials
from service.jobs.warm_start import warm_start_observations
from service.models import TrialStatus
from service.searchers import SUGGESTION_KEY, SearchHistory, make_searcher
from service.spec import JobSpec
from service.store import Store
from workers.reference import fit_transforms, shared_weights_path
from workers.tasks import TaskData, TaskSpec, get_task, load_task_data
from workers.trainable import FineTunePayload, fine_tune_trainable
from workers.trial import TrialPayload


@dataclass(frozen=True)
class PreparedSearch:
    """Everything a job's trials share, computed once by the driver."""

    payload: FineTunePayload
    context: dict[str, Any]
    space: SamplerSpace
    shared_weights_cached: bool
    task_spec: TaskSpec
    data: TaskData
    seed: int
    shared_state: dict[str, Tensor]
    raw_features: Tensor


def prepare_search(spec: JobSpec, settings: Settings,
                   on_phase: Callable[[str], None] = lambda _now: None) -> PreparedSearch:
    """Load data, get (cached) shared weights and static features (``compute_reference``: in the
    driver, or as a Ray task when the job asks for GPUs or runs on a cluster), fit the transforms.
    Ray must be initialised first. ``on_phase`` hears each step as it starts."""
    task_spec = spec.task.to_task_spec()
    task = get_task(task_spec.name)
    seed = spec.search.seed
    space = SamplerSpace(tuple(spec.search.features), spec.search.segments)
    on_phase("loading data")
    data = load_task_data(task_spec, seed, settings.task_paths())
    rounds = spec.search.reference_rounds
    cached = shared_weights_path(task_spec, seed, settings.cache_dir.resolve(), rounds).is_file()
    on_phase("shared weights cached; features" if cached
             else f"training shared weights ({rounds} round{'s' if rounds > 1 else ''}); features")
    reference = compute_reference(task_spec, data, seed, spec.resources, settings, feature_names=space.features,
                                  rounds=rounds)
    transforms = fit_transforms(reference.features, spec.search.transform)
    payload = FineTunePayload(
        trial=TrialPayload.of(task_spec.name, task.recipe, data), shared_state=reference.state,
        transformed_features=transform_features(transforms, reference.features.raw), space=space,
        epsilon=spec.search.epsilon, fine_tune_epochs=spec.search.fine_tune_epochs or task.recipe.fine_tune_epochs,
        objective=spec.search.objective, seed=seed, fine_tune_lr=spec.search.fine_tune_lr or task.recipe.fine_tune_lr,
    )
    context = sampler_context(space, spec.search.epsilon, transforms)
    return PreparedSearch(payload, context, space, reference.cached, task_spec, data, seed, reference.state,
                          reference.features.raw)


def search_history(store: Store, job_id: int) -> SearchHistory:
    """The job's finished and interrupted trials, as its searcher learns them on resume."""
    finished, interrupted = [], []
    for trial in store.trials(job_id):
        if trial.status.finished:
            finished.append((trial.params, trial.metric if trial.status == TrialStatus.SUCCEEDED else None))
        else:  # running when its driver died, or cancelled when a run was cut short: not finished
            interrupted.append({**trial.params, SUGGESTION_KEY: trial.suggestion})
    return SearchHistory(finished, interrupted)


def run_search(store: Store, job_id: int, spec: JobSpec, settings: Settings, search_alg: Any = None,
               on_phase: Callable[[str], None] = lambda _now: None) -> PreparedSearch:
    """Run the search's remaining trials (a resumed job keeps its finished ones and re-runs the
    interrupted ones at their own points); return what its trials shared. ``search_alg``
    overrides the job's searcher (tests)."""
    prepared = prepare_search(spec, settings, on_phase)
    torch.set_num_threads(settings.controller_threads)  # the GP must not compete with local trials
    store.update_job(job_id, sampler_context=prepared.context)
    history = replace(search_history(store, job_id), prior=warm_start_observations(store, spec, job_id))
    done = {t.index for t in store.trials(job_id) if t.status.finished}
    free = [i for i in range(spec.search.trials) if i not in done]
    if not free:
        return prepared
    param_space: dict[str, Any] = {}
    if search_alg is None:
        search = spec.search
        search_alg, param_space = make_searcher(search.searcher, prepared.space, n_initial=search.initial,
                                                beta=search.ucb_beta, seed=search.seed, parallel=search.parallel,
                                                start_uniform=search.start_uniform, history=history,
                                                lookahead=search.lookahead)
    run = TrialRun(trainable=tune.with_parameters(fine_tune_trainable, payload=prepared.payload),
                   parameter_names=prepared.space.names, free_indices=free, search_alg=search_alg,
                   param_space=param_space, label=spec.search.searcher, max_failures=spec.search.max_failures)
    on_phase("trials")
    run_trials(store, job_id, run, spec.resources, settings)
    return prepared
