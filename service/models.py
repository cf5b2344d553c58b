"""SQLAlchemy 2.0 models of the store: jobs and their trials.

Schema changes go through Alembic (``service/migrations``); never ``create_all``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    pass


JOB_STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
TRIAL_STATUSES = ("running", "succeeded", "failed", "cancelled")


class Job(Base):
    """One search job. ``sampler_context`` holds what turns a trial's params into a sampler
    (features, segments, epsilon, fitted transforms), written once the transforms are fitted."""

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32), default="search")
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    best_trial_index: Mapped[int | None] = mapped_column(Integer, default=None)
    sampler_context: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    ray_dashboard_url: Mapped[str | None] = mapped_column(String(256), default=None)
    tune_experiment: Mapped[str | None] = mapped_column(String(256), default=None)

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
    status: Mapped[str] = mapped_column(String(16), default="running")
    metric: Mapped[float | None] = mapped_column(Float, default=None)
    metrics: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    duration_s: Mapped[float | None] = mapped_column(Float, default=None)
    worker_node: Mapped[str | None] = mapped_column(String(128), default=None)
    device: Mapped[str | None] = mapped_column(String(32), default=None)

    job: Mapped[Job] = relationship(back_populates="trials")
