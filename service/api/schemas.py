"""Response bodies of the REST API (request bodies are :mod:`service.spec`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from service.jobs.finish import trial_budget
from service.models import Job, JobStatus, Trial, TrialStatus
from service.spec import JobSpec, StrategyJobSpec, parse_job_spec
from service.store import JobProgress, as_utc


class TrialOut(BaseModel):
    """One candidate evaluation. ``metric`` is the searched objective (validation accuracy)."""

    index: int
    status: TrialStatus
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
    ray_job: str | None = Field(default=None, description="the job's entry in the Ray dashboard (its driver log)")
    ray_submission_id: str | None = Field(default=None, description="the Ray job that drives this job")
    tune_experiment: str | None = Field(description="Ray Tune experiment name (a folder under the results dir)")
    sampler: str | None = Field(default=None, description="the best sampler's JSON (search jobs with a finished trial)")
    weights: str | None = Field(default=None, description="per-training-row sampling weights, .npy (succeeded search jobs)")
    reference_model: str | None = Field(default=None, description="the reference model (succeeded search jobs)")


class JobOut(BaseModel):
    """A job with its progress and best trial so far."""

    id: int
    kind: str
    status: JobStatus
    spec: JobSpec | StrategyJobSpec
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    trials_total: int
    trials_done: int
    trials_failed: int
    best_trial: TrialOut | None
    recommendation: dict[str, Any] | None = Field(
        default=None, description="what the job recommends (choice: trial or uniform, trial, reason, the test and "
                                  "the verify stage's measurements); GET /jobs/{id}/sampler exports it")
    report: dict[str, Any] | None = Field(
        default=None, description="from-scratch report: test accuracy (mean, std) of the best sampler and of uniform, "
                                  "the gain, epochs, seconds and every run; while it runs, runs_done of runs_total")
    links: JobLinks

    @classmethod
    def of(cls, job: Job, progress: JobProgress | None, best: Trial | None, dashboard_url: str | None) -> "JobOut":
        """``progress`` and ``best`` come from the store's aggregate queries."""
        progress = progress or JobProgress()
        dashboard = job.ray_dashboard_url or dashboard_url
        ray_job = f"{dashboard}/#/jobs/{job.ray_submission_id}" if dashboard and job.ray_submission_id else None
        search, succeeded = job.kind == "search", job.status == JobStatus.SUCCEEDED
        return cls(id=job.id, kind=job.kind, status=job.status, spec=parse_job_spec(job.spec), error=job.error,
                   created_at=as_utc(job.created_at), started_at=as_utc(job.started_at),
                   finished_at=as_utc(job.finished_at), trials_total=trial_budget(job.spec),
                   trials_done=progress.done, trials_failed=progress.failed,
                   best_trial=None if best is None else TrialOut.of(best), report=job.report,
                   recommendation=job.recommendation,
                   links=JobLinks(ray_dashboard=dashboard, ray_job=ray_job, ray_submission_id=job.ray_submission_id,
                                  tune_experiment=job.tune_experiment,
                                  sampler=f"/jobs/{job.id}/sampler" if search and best is not None else None,
                                  weights=f"/jobs/{job.id}/weights" if search and succeeded else None,
                                  reference_model=f"/jobs/{job.id}/reference-model" if search and succeeded else None))


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
