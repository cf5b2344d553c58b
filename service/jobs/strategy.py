"""Run a strategy job: one Ray Tune trial per training seed, each training from scratch under a
fixed strategy (or an exported Swift Sampler), recorded in the same trials table as searches."""

from __future__ import annotations

import torch
from ray import tune

from sampler_space.sampler_json import sampler_from_document
from service.config import Settings
from service.models import Job
from service.recorder import TrialRecorder
from service.reference_task import compute_reference
from service.spec import SWIFT, StrategyJobSpec
from service.store import Store
from workers.strategy_trial import StrategyPayload, strategy_trainable
from workers.tasks import get_task, load_task_data


def prepare_strategy(spec: StrategyJobSpec, settings: Settings) -> StrategyPayload:
    """Load the task's data (perturbed with ``run.data_seed``); compute Swift weights or NWS
    reference keys from the shared-weights model when the strategy needs them
    (``compute_reference``; Ray must be initialised first)."""
    task_spec = spec.task.to_task_spec()
    task = get_task(task_spec.name)
    data_seed = spec.run.data_seed
    data = load_task_data(task_spec, data_seed, settings.data_dir)
    static_weights = keys = None
    if spec.strategy.name == SWIFT:
        sampler = sampler_from_document(spec.strategy.options["sampler"])
        reference = compute_reference(task_spec, data, data_seed, spec.resources, settings,
                                      feature_names=tuple(sampler.features))
        static_weights = sampler.weights(reference.features.raw)
    elif spec.strategy.options.get("keys") == "reference":
        keys = compute_reference(task_spec, data, data_seed, spec.resources, settings, want_keys=True).keys
    return StrategyPayload(
        task_name=task_spec.name, input_shape=data.input_shape, num_classes=data.num_classes, recipe=task.recipe,
        x_train=data.x_train, y_train=data.y_train, x_val=data.x_val, y_val=data.y_val, x_test=data.x_test,
        y_test=data.y_test, epochs=spec.run.epochs or task.recipe.scratch_epochs, strategy_name=spec.strategy.name,
        strategy_options={} if spec.strategy.name == SWIFT else dict(spec.strategy.options),
        static_weights=None if static_weights is None else static_weights.to(torch.float32), keys=keys,
    )


def run_strategy_trials(store: Store, job: Job, spec: StrategyJobSpec, settings: Settings) -> None:
    """Run the seeds that have no finished trial yet (a resumed job skips finished ones)."""
    from service.runner import pin_controller_threads, results_path

    payload = prepare_strategy(spec, settings)
    pin_controller_threads(settings)
    done = {t.index for t in store.trials(job.id) if t.status in ("succeeded", "failed")}
    free = [seed for seed in range(spec.run.seeds) if seed not in done]
    if not free:
        return
    experiment = f"samplersearch-job-{job.id}"
    store.update_job(job.id, tune_experiment=experiment)
    trainable = tune.with_resources(tune.with_parameters(strategy_trainable, payload=payload),
                                    {"cpu": spec.resources.cpu, "gpu": spec.resources.gpu})
    tuner = tune.Tuner(
        trainable,
        param_space={"seed": tune.grid_search(free)},
        tune_config=tune.TuneConfig(metric="objective", mode="max", num_samples=1,
                                    max_concurrent_trials=spec.run.parallel, reuse_actors=True),
        run_config=tune.RunConfig(
            name=experiment, storage_path=results_path(settings), verbose=0,
            callbacks=[TrialRecorder(store.url, job.id, ["seed"], free, spec.strategy.name)],
            failure_config=tune.FailureConfig(max_failures=spec.run.max_failures),
        ),
    )
    tuner.fit()
