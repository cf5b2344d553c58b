"""Fault injection: trial workers SIGKILLed at several points of their life. Whatever the moment,
the job ends with exactly its requested trials, each finished (a killed one failed with its
cause, or retried when the job asks for retries), none left running, and no recorder callback
ends the job.

The killer watches the store and the process table from a thread of the test process, which is
also the job's driver; the workers it kills are Ray actor processes (``ray::SamplersearchJob<id>Trial``).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import psutil
import pytest

from service.config import Settings
from service.jobs import run_job
from service.models import JobStatus, TrialStatus
from service.spec import JobSpec
from service.store import Store

pytestmark = pytest.mark.usefixtures("ray_cluster")

TRIALS = 6
MOMENTS = ("start", "mid-epoch", "report")


def trial_workers(job_id: int) -> list[psutil.Process]:
    """Live worker processes running an actor of job ``job_id``'s trials, in this test run's own
    Ray (its raylet, and so its workers, descend from this process): another Ray on the host may
    run a job with the same id."""
    marker = f"SamplersearchJob{job_id}Trial"
    found = []
    for process in psutil.Process(os.getpid()).children(recursive=True):
        try:
            if marker in " ".join(process.cmdline()):
                found.append(process)
        except psutil.NoSuchProcess:
            continue
    return found


class WorkerKiller(threading.Thread):
    """Kills the trial workers of one job once, at ``moment``:

    - ``start``: as soon as a worker exists and a trial is running with no epoch reported yet;
    - ``mid-epoch``: halfway through a running trial's second epoch (by its first epoch's time);
    - ``report``: the instant a trial has reported its last epoch, as it finishes.
    """

    def __init__(self, store: Store, job_id: int, moment: str, epochs: int) -> None:
        super().__init__(daemon=True)
        self.store, self.job_id, self.moment, self.epochs = store, job_id, moment, epochs
        self.killed: list[int] = []
        self.stop = threading.Event()

    def _due(self) -> bool:
        running = [t for t in self.store.trials(self.job_id) if t.status == TrialStatus.RUNNING]
        if self.moment == "start":
            return any(not t.metrics for t in running)
        if self.moment == "mid-epoch":
            started = [t for t in running if len(t.metrics) == 1]
            if started:
                time.sleep(started[0].metrics[0].get("epoch_seconds", 0.1) / 2)
                return True
            return False
        return any(len(t.metrics) == self.epochs for t in running)

    def run(self) -> None:
        while not self.stop.is_set() and not self.killed:
            if self._due():
                for process in trial_workers(self.job_id):
                    try:
                        process.send_signal(signal.SIGKILL)
                        self.killed.append(process.pid)
                    except psutil.NoSuchProcess:
                        pass
            time.sleep(0.01)


def run_with_a_killer(tmp_path: Path, cache: Path, moment: str, max_failures: int = 0):
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'jobs.db'}", cache_dir=cache, results_dir=tmp_path / "ray")
    store = Store(settings.database_url)
    spec = JobSpec.model_validate({"task": {"name": "digits", "label_noise": 0.2},
                                   "search": {"trials": TRIALS, "initial": 3, "parallel": 2, "searcher": "random",
                                              "fine_tune_epochs": 3, "max_failures": max_failures}})
    job = store.create_job(spec.model_dump())
    killer = WorkerKiller(store, job.id, moment, epochs=3)
    killer.start()
    try:
        job = run_job(store, job.id, settings)
    finally:
        killer.stop.set()
        killer.join()
    return store, job, killer


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fault-cache")


@pytest.mark.parametrize("moment", MOMENTS)
def test_a_killed_worker_fails_its_trial_and_the_job_goes_on(tmp_path, cache: Path, moment: str) -> None:
    store, job, killer = run_with_a_killer(tmp_path, cache, moment)
    trials = store.trials(job.id)
    assert killer.killed, f"no worker was killed at {moment}"
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert sorted(t.index for t in trials) == list(range(TRIALS))
    assert all(t.status in (TrialStatus.SUCCEEDED, TrialStatus.FAILED) for t in trials), [t.status for t in trials]
    failed = [t for t in trials if t.status == TrialStatus.FAILED]
    assert all(t.error and "\n" not in t.error for t in failed)
    assert any(t.status == TrialStatus.SUCCEEDED for t in trials)
    assert job.best_trial_index is not None


def test_a_killed_worker_is_retried_when_the_job_asks_for_retries(tmp_path, cache: Path) -> None:
    store, job, killer = run_with_a_killer(tmp_path, cache, "mid-epoch", max_failures=2)
    trials = store.trials(job.id)
    assert killer.killed and job.status == JobStatus.SUCCEEDED, job.error
    assert sorted(t.index for t in trials) == list(range(TRIALS))
    assert all(t.status == TrialStatus.SUCCEEDED for t in trials), [(t.index, t.status, t.error) for t in trials]
