"""The SQL store: the single source of truth for jobs and trials.

Any process can open it and resume from it. Trial writes are idempotent per ``(job_id, index)``:
writing the same trial twice updates one row. SQLite runs in WAL mode with a busy timeout so that
a progress reader and a writer (or several job drivers) do not lock each other out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, case, create_engine, event, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from service.models import FINISHED_TRIAL_STATUSES, Artifact, Job, JobStatus, Trial, TrialStatus, utcnow

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def as_utc(moment: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes; the store writes UTC, so attach it."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=timezone.utc)


class JobNotFoundError(LookupError):
    """No job with that id."""


@dataclass(frozen=True)
class JobProgress:
    """Trial counts of one job: ``done`` finished (succeeded or failed), ``failed`` of them failed."""

    done: int = 0
    failed: int = 0


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, a 30 s busy timeout and cross-thread use.
    PostgreSQL connections ask for UTF-8, so a ``SQL_ASCII`` database (where psycopg would
    otherwise return text as bytes) works too."""
    if url.startswith("sqlite"):
        database = url.split("///", 1)[-1]
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # noqa: ANN001
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    connect_args = {"client_encoding": "utf8"} if url.startswith("postgresql") else {}
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args)


def migrate(engine: Engine) -> None:
    """Apply every Alembic migration up to head on ``engine``'s database."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


class Store:
    """Jobs and trials over one database. Safe to share between threads of one process."""

    def __init__(self, url: str, apply_migrations: bool = True) -> None:
        self.url = url
        self.engine = make_engine(url)
        if apply_migrations:
            migrate(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def session(self) -> Session:
        return self._sessions()

    def dispose(self) -> None:
        self.engine.dispose()

    # Jobs

    def create_job(self, spec: dict[str, Any], kind: str = "search", status: JobStatus = JobStatus.QUEUED) -> Job:
        """A new job. ``queued`` jobs are for a controller to dispatch; a CLI process creates its
        own as ``running``, so that no controller ever picks it up."""
        with self.session() as session, session.begin():
            job = Job(kind=kind, spec=spec, status=status, created_at=utcnow())
            session.add(job)
        return job

    def get_job(self, job_id: int) -> Job:
        with self.session() as session:
            job = session.get(Job, job_id)
            if job is None:
                raise JobNotFoundError(f"no job {job_id}")
            return job

    def update_job(self, job_id: int, **fields: Any) -> Job:
        with self.session() as session, session.begin():
            job = session.get(Job, job_id)
            if job is None:
                raise JobNotFoundError(f"no job {job_id}")
            for name, value in fields.items():
                setattr(job, name, value)
        return job

    def list_jobs(self, status: JobStatus | Iterable[JobStatus] | None = None, limit: int = 50, offset: int = 0,
                  oldest_first: bool = False) -> list[Job]:
        """Jobs, newest first (or oldest first), optionally only those with ``status`` (one or several)."""
        order = Job.id.asc() if oldest_first else Job.id.desc()
        query = select(Job).order_by(order).limit(limit).offset(offset)
        if isinstance(status, str):
            query = query.where(Job.status == status)
        elif status is not None:
            query = query.where(Job.status.in_(list(status)))
        with self.session() as session:
            return list(session.scalars(query))

    def progress(self, job_ids: Iterable[int]) -> dict[int, JobProgress]:
        """Finished and failed trial counts of each job, in one aggregate query (jobs without
        trials are absent: their progress is ``JobProgress()``)."""
        ids = list(job_ids)
        if not ids:
            return {}
        finished = Trial.status.in_(list(FINISHED_TRIAL_STATUSES))
        query = (select(Trial.job_id, func.sum(case((finished, 1), else_=0)),
                        func.sum(case((Trial.status == TrialStatus.FAILED, 1), else_=0)))
                 .where(Trial.job_id.in_(ids)).group_by(Trial.job_id))
        with self.session() as session:
            return {job_id: JobProgress(int(done or 0), int(failed or 0)) for job_id, done, failed in session.execute(query)}

    def best_trials(self, job_ids: Iterable[int]) -> dict[int, Trial]:
        """The best trial (:meth:`best_trial`) of each job that has one, in one query."""
        ids = list(job_ids)
        if not ids:
            return {}
        rank = func.row_number().over(partition_by=Trial.job_id, order_by=(Trial.metric.desc(), Trial.index))
        ranked = (select(Trial.id, rank.label("rank"))
                  .where(Trial.job_id.in_(ids), Trial.status == TrialStatus.SUCCEEDED, Trial.metric.is_not(None))
                  .subquery())
        query = select(Trial).join(ranked, Trial.id == ranked.c.id).where(ranked.c.rank == 1)
        with self.session() as session:
            return {trial.job_id: trial for trial in session.scalars(query)}

    # Trials

    def _upsert_trial(self, job_id: int, index: int, update: dict[str, Any], create: dict[str, Any]) -> Trial:
        for _attempt in range(2):
            try:
                with self.session() as session, session.begin():
                    trial = session.scalar(select(Trial).where(Trial.job_id == job_id, Trial.index == index))
                    if trial is None:
                        trial = Trial(job_id=job_id, index=index, **{**create, **update})
                        session.add(trial)
                    else:
                        for name, value in update.items():
                            setattr(trial, name, value)
                return trial
            except IntegrityError:
                # Another writer inserted the same (job, index) first: retry as an update.
                continue
        raise RuntimeError(f"could not write trial {index} of job {job_id}")

    def start_trial(self, job_id: int, index: int, params: dict[str, float], *, tune_trial_id: str | None = None,
                    suggestion: str | None = None) -> Trial:
        """Record that trial ``index`` started with ``params`` (status ``running``)."""
        return self._upsert_trial(
            job_id, index,
            update={"params": params, "tune_trial_id": tune_trial_id, "suggestion": suggestion,
                    "status": TrialStatus.RUNNING,
                    "started_at": utcnow(), "finished_at": None, "error": None, "metric": None, "metrics": []},
            create={},
        )

    def add_trial_result(self, job_id: int, index: int, result: dict[str, Any]) -> None:
        """Append one epoch's metrics; the first result also records device and node."""
        with self.session() as session, session.begin():
            trial = session.scalar(select(Trial).where(Trial.job_id == job_id, Trial.index == index))
            if trial is None:
                raise LookupError(f"trial {index} of job {job_id} was never started")
            trial.metrics = [*trial.metrics, result]
            trial.device = trial.device or result.get("device")
            trial.worker_node = trial.worker_node or result.get("node_id")

    def finish_trial(self, job_id: int, index: int, *, status: TrialStatus, metric: float | None = None,
                     error: str | None = None) -> None:
        """Close trial ``index`` as ``succeeded`` (with ``metric``) or ``failed`` (with ``error``)."""
        with self.session() as session, session.begin():
            trial = session.scalar(select(Trial).where(Trial.job_id == job_id, Trial.index == index))
            if trial is None:
                raise LookupError(f"trial {index} of job {job_id} was never started")
            finished = utcnow()
            started = as_utc(trial.started_at)
            trial.status, trial.metric, trial.error = status, metric, error
            trial.finished_at, trial.duration_s = finished, (finished - started).total_seconds()

    def cancel_running_trials(self, job_id: int, error: str) -> None:
        """Close the job's ``running`` trials as ``cancelled`` (its driver is gone)."""
        for trial in self.trials(job_id):
            if trial.status == TrialStatus.RUNNING:
                self.finish_trial(job_id, trial.index, status=TrialStatus.CANCELLED, error=error)

    def count_jobs(self, status: JobStatus | None = None) -> int:
        query = select(func.count(Job.id))
        if status is not None:
            query = query.where(Job.status == status)
        with self.session() as session:
            return int(session.scalar(query) or 0)

    def trials(self, job_id: int) -> list[Trial]:
        with self.session() as session:
            return list(session.scalars(select(Trial).where(Trial.job_id == job_id).order_by(Trial.index)))

    def trial(self, job_id: int, index: int) -> Trial | None:
        with self.session() as session:
            return session.scalar(select(Trial).where(Trial.job_id == job_id, Trial.index == index))

    def best_trial(self, job_id: int) -> Trial | None:
        """The succeeded trial with the highest metric (lowest index on ties), or ``None``."""
        return self.best_trials([job_id]).get(job_id)

    # Artifacts

    def put_artifact(self, job_id: int, name: str, content: bytes, media_type: str) -> None:
        """Store (or replace) the job's artifact ``name``."""
        with self.session() as session, session.begin():
            artifact = session.get(Artifact, (job_id, name))
            if artifact is None:
                session.add(Artifact(job_id=job_id, name=name, content=content, media_type=media_type,
                                     size_bytes=len(content)))
            else:
                artifact.content, artifact.media_type, artifact.size_bytes = content, media_type, len(content)
                artifact.created_at = utcnow()

    def artifact(self, job_id: int, name: str) -> Artifact | None:
        """The job's artifact ``name`` with its content, or ``None``."""
        with self.session() as session:
            return session.get(Artifact, (job_id, name))

    def artifact_names(self, job_id: int) -> list[str]:
        with self.session() as session:
            return list(session.scalars(select(Artifact.name).where(Artifact.job_id == job_id).order_by(Artifact.name)))
