"""Turn a stored trial into the exported sampler JSON document."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sampler_space.sampler_json import FORMAT_NAME, FORMAT_VERSION, sampler_from_document, sampler_to_document
from sampler_space.space import SamplerSpace
from sampler_space.transforms import FittedTransform
from service.models import TrialStatus
from service.store import Store


def sampler_context(space: SamplerSpace, epsilon: float, transforms: tuple[FittedTransform, ...]) -> dict[str, Any]:
    """What a job stores once its transforms are fitted, to rebuild any trial's sampler."""
    return {
        "features": list(space.features), "segments": space.segments, "epsilon": epsilon,
        "transforms": [{"kind": t.kind, "breakpoints": t.breakpoints.tolist(), "values": t.values.tolist()}
                       for t in transforms],
    }


def sampler_document(context: dict[str, Any], params: dict[str, float], source: dict[str, Any]) -> dict[str, Any]:
    """The validated sampler JSON document for one trial's ``params`` (a point of the job's space)."""
    space = SamplerSpace(tuple(context["features"]), int(context["segments"]))
    document = {
        "format": FORMAT_NAME, "version": FORMAT_VERSION, "kind": "swift",
        "features": list(space.features), "segments": space.segments, "knots": space.decode(params).tolist(),
        "epsilon": context["epsilon"], "transforms": context["transforms"],
        "source": {**source, "created_at": datetime.now(timezone.utc).isoformat()},
    }
    return sampler_to_document(sampler_from_document(document))


def job_sampler_document(store: Store, job_id: int, trial_index: int | None = None) -> dict[str, Any]:
    """The sampler JSON the job recommends (its verify stage's choice: a trial, or uniform), or,
    before it has one, of its best observed trial; of ``trial_index`` when given.
    ``LookupError`` when there is none (a strategy job, or no finished trial yet)."""
    job = store.get_job(job_id)
    if job.kind != "search":
        raise LookupError(f"job {job_id} is a {job.kind} job; only search jobs produce a sampler")
    recommendation = job.recommendation if trial_index is None else None
    base = {"job_id": job_id, "task": job.spec["task"]["name"],
            # The whole task spec: the reference model (and so the features) depends on its noise and data file.
            "task_spec": dict(job.spec["task"]), "metric": "val_accuracy",
            "objective": job.spec["search"].get("objective", "last"), "seed": job.spec["search"].get("seed", 0),
            # Which reference model the features come from: ``evaluate`` and strategy jobs rebuild it.
            "reference_rounds": job.spec["search"].get("reference_rounds", 1)}
    if recommendation is not None:
        base |= {"recommended": recommendation["choice"], "reason": recommendation["reason"]}
        if recommendation["choice"] == "uniform" and job.sampler_context is not None:
            space = SamplerSpace(tuple(job.sampler_context["features"]), int(job.sampler_context["segments"]))
            return sampler_document(job.sampler_context, space.uniform_point(), {**base, "trial_id": None,
                                                                                 "value": None})
        trial_index = recommendation["trial"]
    trial = store.best_trial(job_id) if trial_index is None else store.trial(job_id, trial_index)
    if trial is None or trial.status != TrialStatus.SUCCEEDED or job.sampler_context is None:
        raise LookupError(f"job {job_id} has no finished trial" + ("" if trial_index is None else f" {trial_index}"))
    return sampler_document(job.sampler_context, trial.params, {**base, "trial_id": trial.index, "value": trial.metric})
