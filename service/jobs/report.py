"""The report stage of a search job: retrain from scratch with the best sampler and with
uniform sampling, on the job's noisy data (its ``search.seed``) and the same training seeds, and
store the test accuracies and the gain in ``Job.report`` (the Swift Sampler paper's protocol:
search with fine-tunes, then retrain from scratch).

Each run is one Ray task with the job's per-trial resources (a GPU worker when the job asks
for GPUs). While the stage runs, ``Job.report`` says how many runs are done.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from typing import Any

import ray

from sampler_space.sampler_json import sampler_from_document
from service.config import Settings
from service.jobs.export import job_sampler_document
from service.spec import JobSpec
from service.store import Store
from workers.evaluation import Evaluation, evaluate_sampler
from workers.tasks import get_task
from workers.training import EpochResult

BEST, UNIFORM = "best", "uniform"


def accuracy_summary(values: list[float]) -> dict[str, float]:
    """Mean and sample standard deviation (0 for one value) of test accuracies in [0, 1]."""
    return {"test_accuracy_mean": statistics.fmean(values),
            "test_accuracy_std": statistics.stdev(values) if len(values) > 1 else 0.0}


def summarise(runs: list[Evaluation], *, epochs: int, seeds: int, data_seed: int, best_trial: int | None,
              seconds: float) -> dict[str, Any]:
    """The stored report: per-sampler mean ± std of test accuracy, the gain (best − uniform, in
    accuracy points of [0, 1]), the epochs, the wall-clock seconds of the stage and every run."""
    best = accuracy_summary([r.test_accuracy for r in runs if r.sampler == BEST])
    uniform = accuracy_summary([r.test_accuracy for r in runs if r.sampler == UNIFORM])
    return {"status": "done", "epochs": epochs, "seeds": seeds, "data_seed": data_seed, "best_trial": best_trial,
            BEST: best, UNIFORM: uniform, "gain": best["test_accuracy_mean"] - uniform["test_accuracy_mean"],
            "seconds": seconds, "runs": [asdict(r) for r in runs]}


@ray.remote(num_cpus=0)
class EpochLog:
    """Where the report's runs post each epoch (a Ray actor: the runs are tasks elsewhere)."""

    def __init__(self) -> None:
        self.latest: dict[str, dict[str, float]] = {}

    def record(self, run: str, epoch: int, val_accuracy: float) -> None:
        self.latest[run] = {"epoch": epoch, "val_accuracy": val_accuracy}

    def snapshot(self) -> dict[str, dict[str, float]]:
        return dict(self.latest)


def _poster(log: Any, run: str) -> Callable[[EpochResult], None]:
    return lambda result: log.record.remote(run, result.epoch, result.val_accuracy)


def running_report(done: int, total: int, epochs: int, latest: dict[str, dict[str, float]]) -> dict[str, Any]:
    """``Job.report`` while the stage runs: runs done, and each run's latest epoch and validation
    accuracy (``epochs_done`` of ``epochs_total`` over all runs, for a progress bar)."""
    return {"status": "running", "runs_done": done, "runs_total": total, "epochs": epochs, "runs_latest": latest,
            "epochs_done": sum(int(r["epoch"]) for r in latest.values()), "epochs_total": total * epochs}


def run_report(store: Store, job_id: int, spec: JobSpec, settings: Settings) -> dict[str, Any]:
    """Run the stage (Ray must be initialised) and return the report; progress (runs done, each
    run's latest epoch and validation accuracy) is written to ``Job.report`` as it comes."""
    document = job_sampler_document(store, job_id)
    # Recommending uniform means: keep the plain shuffled loader. Its runs are uniform's own, so the
    # report states a gain of exactly 0 instead of the noise of i.i.d. draws from equal weights.
    keeps_uniform = document["source"].get("recommended") == "uniform"
    sampler = None if keeps_uniform else sampler_from_document(document)
    task_spec = spec.task.to_task_spec()
    epochs = spec.report.epochs or get_task(task_spec.name).recipe.scratch_epochs
    seeds = spec.report.seeds
    evaluate = ray.remote(evaluate_sampler).options(num_cpus=spec.resources.cpu, num_gpus=spec.resources.gpu,
                                                    max_retries=0, name=f"samplersearch job {job_id} report")
    paths = settings.task_paths()
    log = EpochLog.remote()
    started = time.perf_counter()
    samplers = ((UNIFORM, None),) if keeps_uniform else ((BEST, sampler), (UNIFORM, None))
    pending = [evaluate.remote(task_spec, seed, candidate, paths, epochs=epochs, sampler_name=name,
                               use_gpu=spec.resources.gpu > 0, data_seed=spec.search.seed,
                               reference_rounds=spec.search.reference_rounds, on_epoch=_poster(log, f"{name}/{seed}"))
               for seed in range(seeds) for name, candidate in samplers]
    total = len(pending)
    store.update_job(job_id, report=running_report(0, total, epochs, {}))
    runs: list[Evaluation] = []
    try:
        while pending:
            done, pending = ray.wait(pending, num_returns=1, timeout=1.0)
            runs.extend(ray.get(done))
            store.update_job(job_id, report=running_report(len(runs), total, epochs, ray.get(log.snapshot.remote())))
    finally:
        ray.kill(log)
    if keeps_uniform:
        runs += [replace(run, sampler=BEST) for run in runs]
    runs.sort(key=lambda r: (r.sampler, r.seed))
    return summarise(runs, epochs=epochs, seeds=seeds, data_seed=spec.search.seed,
                     best_trial=document["source"]["trial_id"], seconds=time.perf_counter() - started)
