"""The controller's job dispatcher: every queued service job becomes one Ray job.

Ray's Job Submission API runs, logs, stops and reports each job driver (``python -m
service.driver JOB_ID``); the store stays the source of truth. A watcher thread:

- submits queued jobs while fewer than ``max_running_jobs`` of this controller's Ray jobs run,
  under the submission id ``samplersearch-job-<id>`` (``-<attempt>`` for a resubmission), with
  the service job's id, kind, task and trial budget as metadata;
- notices a Ray job that ended while its service job is still active (the driver died) and fails
  the service job with Ray's reason and the tail of the driver log.

On start it adopts the store's active jobs: a job whose Ray job still runs (a cluster that
outlived the controller) is watched again, never submitted twice; one whose Ray job is gone is
queued again and resumes from its stored trials. Jobs without a submission id that are running
belong to a CLI process and are left alone.
"""

from __future__ import annotations

import logging
import sys
import threading
from typing import Any

from service.cluster import RayCluster
from service.config import Settings
from service.jobs.finish import trial_budget
from service.models import ACTIVE_JOB_STATUSES, Job, JobStatus, utcnow
from service.store import Store

logger = logging.getLogger(__name__)

SUBMISSION_PREFIX = "samplersearch-job-"


def submission_id(job_id: int, attempt: int = 1) -> str:
    """The Ray submission id of attempt ``attempt`` (1, 2, ...) of service job ``job_id``."""
    return f"{SUBMISSION_PREFIX}{job_id}" + ("" if attempt == 1 else f"-{attempt}")


def attempt_of(submission: str | None) -> int:
    """The attempt number of a submission id (0 when there is none)."""
    if not submission:
        return 0
    rest = submission.removeprefix(SUBMISSION_PREFIX)
    _, separator, attempt = rest.partition("-")
    return int(attempt) if separator and attempt.isdigit() else 1


def driver_entrypoint(job_id: int) -> str:
    """The shell command Ray runs for job ``job_id``'s driver (``exec``: the driver is the process
    Ray watches and signals, with no shell in between)."""
    return f"exec {sys.executable} -m service.driver {job_id}"


def _log_tail(text: str, lines: int = 3) -> str:
    return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:])


class JobDispatcher:
    """Submits, watches and cancels this controller's Ray jobs.

    Args:
        store: the job store.
        cluster: the Ray cluster's Job API.
        settings: passed to drivers as environment variables (``Settings.driver_environment``).
        public_url: the service's URL, for the ``trials`` link in each Ray job's metadata.
        poll_seconds: how often the watcher looks at Ray jobs and the queue.
    """

    def __init__(self, store: Store, cluster: RayCluster, settings: Settings, public_url: str | None = None,
                 poll_seconds: float = 1.0) -> None:
        self.store = store
        self.cluster = cluster
        self.settings = settings
        self.public_url = public_url
        self.poll_seconds = poll_seconds
        self._watched: dict[int, str] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="job-dispatcher", daemon=True)

    # Life cycle

    def start(self) -> None:
        """Adopt the store's active jobs (see the module docstring), then start watching."""
        for job in self.store.list_jobs(status=ACTIVE_JOB_STATUSES, limit=100_000):
            if job.ray_submission_id is None:
                continue  # queued jobs are picked up by the watcher; running ones belong to a CLI
            status = self._ray_status(job.ray_submission_id)
            if status is not None and not status.is_terminal():
                logger.info("job %s: re-attached to Ray job %s (%s)", job.id, job.ray_submission_id, status)
                self._watched[job.id] = job.ray_submission_id
            else:
                logger.info("job %s: its Ray job %s is gone; queued to resume", job.id, job.ray_submission_id)
                self.store.update_job(job.id, status=JobStatus.QUEUED)
        self._thread.start()

    def stop(self) -> None:
        """Stop watching. Ray jobs keep running on a cluster; a local head ends with the controller."""
        self._stop.set()
        self._thread.join(timeout=10)

    def wake(self) -> None:
        """Submit queued jobs now instead of at the next poll."""
        self._tick()

    def running_jobs(self) -> list[int]:
        with self._lock:
            return sorted(self._watched)

    # Operations

    def cancel(self, job_id: int) -> bool:
        """Cancel a queued or running job: its Ray job is stopped (Ray reports STOPPED), finished
        trials are kept, running ones are marked cancelled. Returns False when it had already ended."""
        with self._lock:
            job = self.store.get_job(job_id)
            if not job.status.active:
                return False
            self.store.update_job(job_id, status=JobStatus.CANCELLED, finished_at=utcnow(), error="cancelled by the user")
            submission = self._watched.pop(job_id, None) or job.ray_submission_id
        if submission is not None:
            try:
                self.cluster.jobs().stop_job(submission)
            except RuntimeError as error:  # the Ray job is already gone
                logger.info("job %s: stopping Ray job %s: %s", job_id, submission, error)
        self.store.cancel_running_trials(job_id, "job cancelled")
        return True

    def _ray_status(self, submission: str) -> Any:
        try:
            return self.cluster.jobs().get_job_status(submission)
        except RuntimeError:  # no such Ray job
            return None

    def _metadata(self, job: Job) -> dict[str, str]:
        metadata = {"samplersearch_job_id": str(job.id), "kind": job.kind, "task": job.spec["task"]["name"],
                    "trials": str(trial_budget(job.spec))}
        if self.public_url:
            metadata["trials_url"] = f"{self.public_url}/jobs/{job.id}/trials"
        return metadata

    def _submit(self, job: Job) -> None:
        attempt = attempt_of(job.ray_submission_id) + 1
        while self._ray_status(submission_id(job.id, attempt)) is not None:
            attempt += 1  # an earlier controller of this cluster used that id
        submission = submission_id(job.id, attempt)
        # Recorded before submitting: a controller that dies in between finds the Ray job by it.
        self.store.update_job(job.id, ray_submission_id=submission, ray_dashboard_url=self.cluster.dashboard_url)
        self.cluster.jobs().submit_job(
            entrypoint=driver_entrypoint(job.id), submission_id=submission, metadata=self._metadata(job),
            runtime_env={"env_vars": {**self.settings.driver_environment(), "RAY_AIR_NEW_OUTPUT": "0"}},
        )
        self._watched[job.id] = submission
        logger.info("job %s: submitted as Ray job %s", job.id, submission)

    def _fail_dead_driver(self, job_id: int, submission: str) -> None:
        job = self.store.get_job(job_id)
        if not job.status.active:
            return
        try:
            info = self.cluster.jobs().get_job_info(submission)
            if str(info.status) == "STOPPED":  # stopped through Ray (``ray job stop``), not through the API
                self.store.update_job(job_id, status=JobStatus.CANCELLED, finished_at=utcnow(),
                                      error=f"Ray job {submission} was stopped")
                self.store.cancel_running_trials(job_id, "job cancelled")
                return
            reason = f"job driver (Ray job {submission}) ended {info.status}: {info.message or 'no message'}"
            tail = _log_tail(self.cluster.jobs().get_job_logs(submission))
        except RuntimeError:  # the Ray job is gone (e.g. the cluster restarted)
            reason, tail = f"job driver (Ray job {submission}) is gone from the Ray cluster", ""
        self.store.update_job(job_id, status=JobStatus.FAILED, finished_at=utcnow(),
                              error=reason + (f"; log: {tail}" if tail else ""))
        self.store.cancel_running_trials(job_id, "job driver died")

    def _tick(self) -> None:
        with self._lock:
            for job_id, submission in list(self._watched.items()):
                status = self._ray_status(submission)
                if status is not None and not status.is_terminal():
                    continue
                del self._watched[job_id]
                self._fail_dead_driver(job_id, submission)
            free = self.settings.max_running_jobs - len(self._watched)
            if free <= 0:
                return
            for job in self.store.list_jobs(status=JobStatus.QUEUED, limit=free, oldest_first=True):
                if job.id not in self._watched:
                    self._submit(job)

    def _watch(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self._tick()
            except Exception:  # noqa: BLE001 - the watcher must outlive a transient DB or Ray error
                logger.exception("job dispatcher tick failed")
