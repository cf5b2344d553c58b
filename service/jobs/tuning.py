"""The one Ray Tune run every job kind uses: a job's remaining trials, recorded in the store."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ray import tune
from ray.tune.trainable import wrap_function

from service.config import Settings
from service.jobs.recorder import TrialRecorder
from service.searchers.factory import METRIC, MODE
from service.searchers.indexing import TrialIndexer
from service.spec import Resources
from service.store import Store
from workers.trial import TRIAL_INDEX_KEY, recognisable


@dataclass(frozen=True)
class TrialRun:
    """What differs between job kinds in their Tune run.

    Attributes:
        trainable: a Tune function trainable with its payload bound (``tune.with_parameters``).
        parameter_names: config keys stored as a trial's params.
        free_indices: the trial indices still to fill, in suggestion order.
        search_alg: a Tune ``Searcher``; each suggestion gets the next free index
            (``TRIAL_INDEX_KEY``). ``None``: Tune's variant generator over ``param_space``, whose
            ``seed`` is the trial index (strategy jobs).
        param_space: Tune's ``param_space``.
        max_concurrent: trials at once when ``search_alg`` does not limit them itself.
        label: recorded as a trial's ``suggestion`` when its config does not say where it came from.
        max_failures: Tune's retries of a crashed trial.
    """

    trainable: Callable[..., Any]
    parameter_names: list[str]
    free_indices: list[int]
    search_alg: Any = None
    param_space: dict[str, Any] = field(default_factory=dict)
    max_concurrent: int | None = None
    label: str = ""
    max_failures: int = 0


def experiment_name(job_id: int) -> str:
    """The Tune experiment (a folder under the results directory) of job ``job_id``."""
    return f"samplersearch-job-{job_id}"


def run_trials(store: Store, job_id: int, run: TrialRun, resources: Resources, settings: Settings) -> None:
    """Run ``run``'s trials on Ray Tune (Ray must be initialised), each with ``resources``; every
    trial event is written to the store as it happens. Returns when Tune's run ends."""
    experiment = experiment_name(job_id)
    store.update_job(job_id, tune_experiment=experiment)
    index_key = "seed" if run.search_alg is None else TRIAL_INDEX_KEY
    search_alg = None if run.search_alg is None else TrialIndexer(run.search_alg, run.free_indices)
    trainable = recognisable(tune.with_resources(wrap_function(run.trainable),
                                                 {"cpu": resources.cpu, "gpu": resources.gpu}), job_id, index_key)
    tuner = tune.Tuner(
        trainable,
        param_space=run.param_space,
        tune_config=tune.TuneConfig(search_alg=search_alg, metric=METRIC, mode=MODE,
                                    num_samples=1 if run.search_alg is None else len(run.free_indices),
                                    max_concurrent_trials=run.max_concurrent, reuse_actors=True),
        run_config=tune.RunConfig(
            name=experiment, storage_path=str(Path(settings.results_dir).resolve()), verbose=0,
            callbacks=[TrialRecorder(store.url, job_id, run.parameter_names, index_key, run.label)],
            failure_config=tune.FailureConfig(max_failures=run.max_failures),
        ),
    )
    tuner.fit()
