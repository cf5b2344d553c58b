"""Job driver: ``python -m service.driver JOB_ID`` runs one job, as the entrypoint of the Ray job
the controller submits for it (``service.dispatch``).

Settings come from the ``SAMPLERSEARCH_*`` variables the controller puts into the Ray job's
environment. The exit code tells Ray the outcome, so the dashboard's status agrees with the
store's: 0 when the job succeeded, 1 when it failed. ``ray job stop`` (the API's cancel) ends the
process with SIGTERM; Ray then reports STOPPED.
"""

from __future__ import annotations

import logging
import sys

from service.config import Settings
from service.jobs import run_job
from service.models import JobStatus
from service.store import Store


def main(argv: list[str]) -> int:
    """Run the job named by ``argv[0]``; exit 0 when it succeeded (or had already ended), 1 otherwise."""
    settings = Settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    job_id = int(argv[0])
    store = Store(settings.database_url, apply_migrations=False)
    job = store.get_job(job_id)
    print(f"samplersearch job {job_id}: {job.kind} job on task {job.spec['task']['name']}, status {job.status}",
          flush=True)
    if not job.status.active:
        return 0
    job = run_job(store, job_id, settings)
    print(f"samplersearch job {job_id} {job.status}" + (f": {job.error}" if job.error else ""), flush=True)
    return 0 if job.status == JobStatus.SUCCEEDED else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
