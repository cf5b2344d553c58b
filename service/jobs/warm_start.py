"""Warm start: a search job first learns the succeeded trials of earlier jobs that searched the
same task and sampler space (``search.warm_start`` names them).

A trial's value means the same in two jobs only when the task (data, noise, split), the space
(features, knots, transform, reference rounds, weight floor) and the objective (its kind and E_f) are the same;
:func:`check_sources` refuses any other source, naming the field that differs. The search seed
may differ: another seed's trials were measured on another draw of the noise and other shared
weights, which the GP treats as noise on the same function.
"""

from __future__ import annotations

from pydantic import ValidationError

from service.models import TrialStatus
from service.spec import JobSpec
from service.store import JobNotFoundError, Store

#: search fields whose values must match for trial values to be comparable
COMPARABLE_SEARCH_FIELDS = ("features", "segments", "transform", "reference_rounds", "epsilon", "objective",
                            "fine_tune_epochs", "fine_tune_lr")


class WarmStartError(ValueError):
    """A ``search.warm_start`` source that cannot be used; the message names it and why."""


def _mismatch(source: JobSpec, spec: JobSpec) -> str | None:
    """The first field where ``source`` and ``spec`` differ in a way that changes what a trial measures."""
    if source.task != spec.task:
        different = next(name for name in type(spec.task).model_fields
                         if getattr(source.task, name) != getattr(spec.task, name))
        return f"task.{different}"
    return next((f"search.{name}" for name in COMPARABLE_SEARCH_FIELDS
                 if getattr(source.search, name) != getattr(spec.search, name)), None)


def check_sources(store: Store, spec: JobSpec, job_id: int | None = None) -> None:
    """Raise :class:`WarmStartError` unless every job in ``spec.search.warm_start`` exists, is a
    search job other than ``job_id`` and measured the same thing as ``spec``."""
    for source_id in spec.search.warm_start:
        if source_id == job_id:
            raise WarmStartError(f"job {source_id} is this job")
        try:
            source = store.get_job(source_id)
        except JobNotFoundError:
            raise WarmStartError(f"no job {source_id}") from None
        if source.kind != "search":
            raise WarmStartError(f"job {source_id} is a {source.kind} job, not a search")
        try:
            source_spec = JobSpec.model_validate(source.spec)
        except ValidationError as error:
            raise WarmStartError(f"job {source_id}'s stored spec is no longer valid "
                                 f"({error.error_count()} errors)") from None
        different = _mismatch(source_spec, spec)
        if different is not None:
            raise WarmStartError(f"job {source_id} differs in {different}; its trials measure something else")


def warm_start_observations(store: Store, spec: JobSpec, job_id: int) -> list[tuple[dict[str, float], float]]:
    """``(params, objective)`` of every succeeded trial of the source jobs, in job then trial order.

    Raises:
        WarmStartError: a source is missing or not comparable (checked again: it may have changed
            since the job was submitted).
    """
    check_sources(store, spec, job_id)
    observations = []
    for source_id in spec.search.warm_start:
        observations += [(trial.params, trial.metric) for trial in store.trials(source_id)
                         if trial.status == TrialStatus.SUCCEEDED and trial.metric is not None]
    return observations
