"""SQLAlchemy 2.0 models of the store: jobs, their trials and their artifacts.

Schema changes go through Alembic (``service/migrations``); never ``create_all``.
"""

from __future__ import annotations

import enum
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, DateTime, Enum, Float, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    pass


class JobStatus(enum.StrEnum):
    """Where a job is. ``queued`` and ``running`` are active; the others are final."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def active(self) -> bool:
        return self in ACTIVE_JOB_STATUSES


ACTIVE_JOB_STATUSES = frozenset({JobStatus.QUEUED, JobStatus.RUNNING})


class TrialStatus(enum.StrEnum):
    """Where a trial is. ``succeeded`` and ``failed`` trials are finished: they count toward a
    job's budget and are never run again; ``running`` and ``cancelled`` ones are not."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in FINISHED_TRIAL_STATUSES


FINISHED_TRIAL_STATUSES = frozenset({TrialStatus.SUCCEEDED, TrialStatus.FAILED})


def _status_column(enum_class: type[enum.StrEnum], name: str) -> Enum:
    """Stored as the enum's value in a VARCHAR(16) with a CHECK constraint (``ck_<table>_status``)."""
    return Enum(enum_class, native_enum=False, length=16, create_constraint=True, validate_strings=True,
                values_callable=lambda members: [m.value for m in members], name=name)


class Job(Base):
    """One search job. ``sampler_context`` holds what turns a trial's params into a sampler
    (features, segments, epsilon, fitted transforms), written once the transforms are fitted."""

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32), default="search")
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[JobStatus] = mapped_column(_status_column(JobStatus, "ck_jobs_status"), default=JobStatus.QUEUED,
                                              index=True)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    best_trial_index: Mapped[int | None] = mapped_column(Integer, default=None)
    sampler_context: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    ray_dashboard_url: Mapped[str | None] = mapped_column(String(256), default=None)
    tune_experiment: Mapped[str | None] = mapped_column(String(256), default=None)
    #: submission id of the Ray job that drives (or last drove) this job; ``None`` for CLI jobs
    ray_submission_id: Mapped[str | None] = mapped_column(String(128), default=None)
    #: which sampler the job recommends and why (the verify stage's measurements and test)
    recommendation: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    #: the from-scratch report (best sampler against uniform), once its stage has run
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)

    trials: Mapped[list["Trial"]] = relationship(back_populates="job", order_by="Trial.index")


class Trial(Base):
    """One candidate evaluation. Idempotent per ``(job_id, index)``."""

    __tablename__ = "trials"
    __table_args__ = (UniqueConstraint("job_id", "index", name="uq_trials_job_index"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    index: Mapped[int] = mapped_column(Integer)
    tune_trial_id: Mapped[str | None] = mapped_column(String(64), default=None)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    suggestion: Mapped[str | None] = mapped_column(String(32), default=None)
    status: Mapped[TrialStatus] = mapped_column(_status_column(TrialStatus, "ck_trials_status"),
                                                default=TrialStatus.RUNNING)
    metric: Mapped[float | None] = mapped_column(Float, default=None)
    metrics: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    duration_s: Mapped[float | None] = mapped_column(Float, default=None)
    worker_node: Mapped[str | None] = mapped_column(String(128), default=None)
    device: Mapped[str | None] = mapped_column(String(32), default=None)

    job: Mapped[Job] = relationship(back_populates="trials")


class Artifact(Base):
    """A file a job produced (per-sample weights, its reference model, per-sample analysis data),
    kept in the store so that any process can serve it after a restart, with no shared disk."""

    __tablename__ = "artifacts"

    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    media_type: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    size_bytes: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
