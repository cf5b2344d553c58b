"""A strategy job: one Ray Tune trial per training seed, each training from scratch under a
fixed strategy (or an exported Swift Sampler), recorded in the same trials table as searches."""

from __future__ import annotations

import torch
from ray import tune

from sampler_space.sampler_json import sampler_from_document
from service.config import Settings
from service.jobs.reference import compute_reference
from service.jobs.tuning import TrialRun, run_trials
from service.spec import SWIFT, StrategyJobSpec, sampler_reference_rounds
from service.store import Store
from workers.strategy_trial import StrategyPayload, strategy_trainable
from workers.tasks import get_task, load_task_data
from workers.trial import TrialPayload


def prepare_strategy(spec: StrategyJobSpec, settings: Settings) -> StrategyPayload:
    """Load the task's data (perturbed with ``run.data_seed``); compute Swift weights or NWS
    reference keys from the shared-weights model when the strategy needs them
    (``compute_reference``; Ray must be initialised first)."""
    task_spec = spec.task.to_task_spec()
    task = get_task(task_spec.name)
    data_seed = spec.run.data_seed
    data = load_task_data(task_spec, data_seed, settings.task_paths())
    static_weights = keys = None
    if spec.strategy.name == SWIFT:
        sampler = sampler_from_document(spec.strategy.options["sampler"])
        reference = compute_reference(task_spec, data, data_seed, spec.resources, settings,
                                      feature_names=tuple(sampler.features), rounds=sampler_reference_rounds(sampler))
        static_weights = sampler.weights(reference.features.raw).to(torch.float32)
    elif spec.strategy.options.get("keys") == "reference":
        keys = compute_reference(task_spec, data, data_seed, spec.resources, settings, want_keys=True).keys
    return StrategyPayload(
        trial=TrialPayload.of(task_spec.name, task.recipe, data, with_test=True),
        epochs=spec.run.epochs or task.recipe.scratch_epochs, strategy_name=spec.strategy.name,
        strategy_options={} if spec.strategy.name == SWIFT else dict(spec.strategy.options),
        static_weights=static_weights, keys=keys,
    )


def run_strategy_job(store: Store, job_id: int, spec: StrategyJobSpec, settings: Settings) -> None:
    """Run the seeds that have no finished trial yet (a resumed job skips finished ones)."""
    payload = prepare_strategy(spec, settings)
    torch.set_num_threads(settings.controller_threads)
    done = {t.index for t in store.trials(job_id) if t.status.finished}
    free = [seed for seed in range(spec.run.seeds) if seed not in done]
    if not free:
        return
    run = TrialRun(trainable=tune.with_parameters(strategy_trainable, payload=payload), parameter_names=["seed"],
                   free_indices=free, param_space={"seed": tune.grid_search(free)},
                   max_concurrent=spec.run.parallel, label=spec.strategy.name, max_failures=spec.run.max_failures)
    run_trials(store, job_id, run, spec.resources, settings)
