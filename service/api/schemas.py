"""Response bodies of the REST API (request bodies are :mod:`service.spec`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from service.models import Job, Trial
from service.spec import JobSpec, StrategyJobSpec, parse_job_spec
from service.store import as_utc


class TrialOut(BaseModel):
    """One candidate evaluation. ``metric`` is the searched objective (validation accuracy)."""

    index: int
    status: str = Field(description="running | succeeded | failed | cancelled")
    params: dict[str, float]
    suggestion: str | None = Field(description="where the point came from: uniform, sobol, gp-ucb, random, optuna, ...")
    metric: float | None
    metrics: list[dict[str, Any]] = Field(description="one entry per fine-tuning epoch")
    error: str | None
    started_at: datetime | None
    finished_at: datetime | None
    duration_s: float | None
    worker_node: str | None
    device: str | None

    @classmethod
    def of(cls, trial: Trial) -> "TrialOut":
        return cls(index=trial.index, status=trial.status, params=trial.params, suggestion=trial.suggestion,
                   metric=trial.metric, metrics=trial.metrics or [], error=trial.error,
                   started_at=as_utc(trial.started_at), finished_at=as_utc(trial.finished_at),
                   duration_s=trial.duration_s, worker_node=trial.worker_node, device=trial.device)


class JobLinks(BaseModel):
    ray_dashboard: str | None = Field(description="the Ray dashboard; trials appear there as actors")
    tune_experiment: str | None = Field(description="Ray Tune experiment name (a folder under the results dir)")


class JobOut(BaseModel):
    """A job with its progress and best trial so far."""

    id: int
    kind: str
    status: str = Field(description="queued | running | succeeded | failed | cancelled")
    spec: JobSpec | StrategyJobSpec
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    trials_total: int
    trials_done: int
    trials_failed: int
    best_trial: TrialOut | None
    links: JobLinks

    @classmethod
    def of(cls, job: Job, trials: list[Trial], dashboard_url: str | None) -> "JobOut":
        finished = [t for t in trials if t.status in ("succeeded", "failed")]
        succeeded = [t for t in finished if t.status == "succeeded" and t.metric is not None]
        best = max(succeeded, key=lambda t: (t.metric, -t.index), default=None)
        spec = parse_job_spec(job.spec)
        total = spec.search.trials if isinstance(spec, JobSpec) else spec.run.seeds
        return cls(id=job.id, kind=job.kind, status=job.status, spec=spec, error=job.error,
                   created_at=as_utc(job.created_at), started_at=as_utc(job.started_at),
                   finished_at=as_utc(job.finished_at), trials_total=total,
                   trials_done=len(finished), trials_failed=len(finished) - len(succeeded),
                   best_trial=None if best is None else TrialOut.of(best),
                   links=JobLinks(ray_dashboard=job.ray_dashboard_url or dashboard_url,
                                  tune_experiment=job.tune_experiment))


class JobPage(BaseModel):
    items: list[JobOut]
    total: int
    limit: int
    offset: int


class TaskOut(BaseModel):
    name: str
    description: str
    size: str
    defaults: dict[str, Any]


class StrategyParameterOut(BaseModel):
    name: str
    default: Any
    description: str


class StrategyOut(BaseModel):
    name: str
    description: str
    parameters: list[StrategyParameterOut]


class Health(BaseModel):
    status: str = Field(description="ok when the database and Ray answer")
    database: bool
    ray: bool
    ray_address: str | None
    ray_dashboard: str | None
    running_jobs: list[int]
