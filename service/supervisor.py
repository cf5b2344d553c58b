"""The controller's job supervisor: one driver process per job, started, watched and cancelled.

A watcher thread starts queued jobs (up to ``max_running_jobs``) and notices drivers that exit:
a driver that dies while its job is still ``queued`` or ``running`` marks the job ``failed`` with
the tail of its log, so a job is never left "running" by a crash. On start, jobs a previous
controller left ``queued`` or ``running`` are simply queued again; the driver resumes them from
the store.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from service.config import Settings
from service.models import utcnow
from service.store import Store

logger = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask Linux to SIGKILL this process when its parent (the controller) dies."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass
    os.setsid()


@dataclass
class RunningDriver:
    process: subprocess.Popen
    log_path: Path


def _log_tail(path: Path, lines: int = 3) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text[-lines:])


class JobSupervisor:
    """Starts and watches job drivers for one controller.

    Args:
        store: the job store.
        settings: passed to drivers through the environment.
        ray_address: the cluster drivers connect to.
        max_running_jobs: jobs whose drivers run at once; others wait queued.
        poll_seconds: how often the watcher looks at drivers and the queue.
    """

    def __init__(self, store: Store, settings: Settings, ray_address: str, max_running_jobs: int = 4,
                 poll_seconds: float = 0.5) -> None:
        self.store = store
        self.settings = settings
        self.ray_address = ray_address
        self.max_running_jobs = max_running_jobs
        self.poll_seconds = poll_seconds
        self.log_dir = Path(settings.results_dir).resolve() / "driver-logs"
        self._drivers: dict[int, RunningDriver] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="job-supervisor", daemon=True)

    def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for job in self.store.list_jobs(status="running", limit=10_000):
            logger.info("job %s was running when the controller stopped; resuming it", job.id)
            self.store.update_job(job.id, status="queued")
        self._thread.start()

    def stop(self) -> None:
        """Stop watching and end every driver (their jobs stay resumable in the store)."""
        self._stop.set()
        self._thread.join(timeout=5)
        with self._lock:
            for driver in self._drivers.values():
                self._kill(driver)
            self._drivers.clear()

    def wake(self) -> None:
        """Start queued jobs now instead of at the next poll."""
        self._tick()

    def cancel(self, job_id: int) -> bool:
        """Cancel a queued or running job; finished trials are kept, running ones are marked
        cancelled. Returns False when the job had already ended."""
        with self._lock:
            job = self.store.get_job(job_id)
            if job.status not in ("queued", "running"):
                return False
            self.store.update_job(job_id, status="cancelled", finished_at=utcnow(), error="cancelled by the user")
            driver = self._drivers.pop(job_id, None)
        if driver is not None:
            self._kill(driver)
        for trial in self.store.trials(job_id):
            if trial.status == "running":
                self.store.finish_trial(job_id, trial.index, status="cancelled", error="job cancelled")
        return True

    def running_jobs(self) -> list[int]:
        with self._lock:
            return sorted(self._drivers)

    def _kill(self, driver: RunningDriver) -> None:
        if driver.process.poll() is None:
            try:
                os.killpg(driver.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            driver.process.wait(timeout=10)

    def _spawn(self, job_id: int) -> RunningDriver:
        log_path = self.log_dir / f"job-{job_id}.log"
        env = {**os.environ, "SAMPLERSEARCH_DATABASE_URL": self.store.url, "SAMPLERSEARCH_RAY_ADDRESS": self.ray_address,
               "SAMPLERSEARCH_CACHE_DIR": str(Path(self.settings.cache_dir).resolve()),
               "SAMPLERSEARCH_RESULTS_DIR": str(Path(self.settings.results_dir).resolve()),
               "SAMPLERSEARCH_DATA_DIR": str(Path(self.settings.data_dir).resolve()),
               "RAY_AIR_NEW_OUTPUT": "0"}
        with open(log_path, "ab") as log:
            process = subprocess.Popen([sys.executable, "-m", "service.driver", str(job_id)], env=env,
                                       stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       preexec_fn=_die_with_parent)
        logger.info("job %s: driver pid %s, log %s", job_id, process.pid, log_path)
        return RunningDriver(process, log_path)

    def _tick(self) -> None:
        with self._lock:
            for job_id, driver in list(self._drivers.items()):
                code = driver.process.poll()
                if code is None:
                    continue
                del self._drivers[job_id]
                job = self.store.get_job(job_id)
                if job.status in ("queued", "running"):
                    reason = _log_tail(driver.log_path) or "no output"
                    self.store.update_job(job_id, status="failed", finished_at=utcnow(),
                                          error=f"job driver exited with code {code}: {reason}")
            free = self.max_running_jobs - len(self._drivers)
            if free <= 0:
                return
            for job in self.store.list_jobs(status="queued", limit=free, oldest_first=True):
                if job.id not in self._drivers:
                    self._drivers[job.id] = self._spawn(job.id)

    def _watch(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self._tick()
            except Exception:  # noqa: BLE001 - the watcher must outlive a transient DB error
                logger.exception("job supervisor tick failed")
