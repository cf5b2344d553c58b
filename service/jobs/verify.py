"""The verify stage of a search job: choose what to recommend by the model and by fresh
measurements, not by the largest noisy observation (winner's curse).

1. Fit the searcher's GP to every succeeded trial and rank them by posterior mean.
2. Measure the top ``verify.candidates`` (uniform's own trial excluded) and uniform again on
   ``verify.seeds`` fresh training seeds, as Ray tasks with the job's per-trial resources:
   trained from scratch and scored on the validation split (``verify.measure: scratch``, the
   default; uniform then uses the plain shuffled loader a user would keep), or fine-tuned from
   the shared weights as a trial is (``fine-tune``).
3. ``service.recommendation.recommend``: a candidate only when it beats uniform outside the noise.
"""

from __future__ import annotations

import math
from typing import Any

import ray
import torch

from sampler_space.sampler_json import sampler_from_document
from service.config import Settings
from service.jobs.export import sampler_document
from service.jobs.search import PreparedSearch
from service.models import TrialStatus
from service.recommendation import recommend
from service.searchers.gp_ucb import posterior_mean
from service.spec import JobSpec
from service.store import Store
from workers.evaluation import evaluate_sampler
from workers.tasks import TaskPaths
from workers.trainable import fine_tune_objective

UNIFORM_TOLERANCE = 1e-9


def verify_seeds(spec: JobSpec) -> list[int]:
    """Training seeds of the verify stage: fresh ones, none of them the search's own."""
    return [spec.search.seed + 1 + i for i in range(spec.verify.seeds)]


def scratch_validation_accuracy(spec: JobSpec, paths: TaskPaths, context: dict[str, Any],
                                point: dict[str, float] | None, seed: int) -> float:
    """Validation accuracy after training from scratch with training seed ``seed`` under the
    sampler at ``point`` of the job's space (``None``: uniform, the plain shuffled loader)."""
    sampler = None if point is None else sampler_from_document(sampler_document(context, point, {}))
    return evaluate_sampler(spec.task.to_task_spec(), seed, sampler, paths, epochs=spec.verify.epochs,
                            use_gpu=spec.resources.gpu > 0, data_seed=spec.search.seed,
                            reference_rounds=spec.search.reference_rounds).val_accuracy


def run_verify(store: Store, job_id: int, spec: JobSpec, prepared: PreparedSearch,
               settings: Settings) -> dict[str, Any]:
    """The job's recommendation (``Job.recommendation``). Ray must be initialised; ``settings``
    gives the task's paths to from-scratch measurements."""
    space = prepared.space
    trials = [t for t in store.trials(job_id)
              if t.status == TrialStatus.SUCCEEDED and t.metric is not None and math.isfinite(t.metric)]
    x = torch.tensor([[t.params[n] for n in space.names] for t in trials], dtype=torch.float64)
    y = torch.tensor([[t.metric] for t in trials], dtype=torch.float64)
    means = posterior_mean(x, y, seed=spec.search.seed).tolist() if len(trials) > 1 else [t.metric for t in trials]
    ranked = sorted(zip(trials, means), key=lambda pair: (-pair[1], pair[0].index))
    model_best = ranked[0][0].index
    uniform = space.uniform_point()
    candidates = [(t, m) for t, m in ranked
                  if max(abs(t.params[n] - uniform[n]) for n in space.names) > UNIFORM_TOLERANCE][: spec.verify.candidates]
    if not candidates:
        reason = ("verify stage off (verify.candidates = 0)" if spec.verify.candidates == 0
                  else "every succeeded trial is the uniform sampler")
        return {"choice": "trial", "trial": model_best, "reason": f"{reason}: the GP posterior mean's best trial",
                "posterior_best": model_best}
    seeds = verify_seeds(spec)
    options = {"num_cpus": spec.resources.cpu, "num_gpus": spec.resources.gpu, "max_retries": 0,
               "name": f"samplersearch job {job_id} verify"}
    if spec.verify.measure == "scratch":
        measure = ray.remote(scratch_validation_accuracy).options(**options)
        paths = settings.task_paths()
        uniform_refs = [measure.remote(spec, paths, prepared.context, None, seed) for seed in seeds]
        candidate_refs = [[measure.remote(spec, paths, prepared.context, dict(t.params), seed) for seed in seeds]
                          for t, _ in candidates]
    else:
        payload = ray.put(prepared.payload)
        measure = ray.remote(fine_tune_objective).options(**options)
        uniform_refs = [measure.remote(uniform, payload, seed) for seed in seeds]
        candidate_refs = [[measure.remote(dict(t.params), payload, seed) for seed in seeds] for t, _ in candidates]
    uniform_values = ray.get(uniform_refs)
    measured = [(t.index, float(m), ray.get(refs)) for (t, m), refs in zip(candidates, candidate_refs)]
    scored = "validation accuracy from scratch" if spec.verify.measure == "scratch" else "the objective"
    record = recommend(measured, uniform_values, seeds, alpha=spec.verify.alpha, scored=scored)
    return {**record, "measure": spec.verify.measure, "posterior_best": model_best}
