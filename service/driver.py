"""Job driver process: ``python -m service.driver JOB_ID`` runs one job against a Ray cluster.

The REST controller starts one driver per job (two ``Tuner.fit`` calls in one process race in
Ray Tune). Settings come from ``SAMPLERSEARCH_*`` variables the controller passes
(``DATABASE_URL``, ``RAY_ADDRESS``, ...). The driver dies with its controller (Linux
parent-death signal), so a killed controller never leaves a job running twice.
"""

from __future__ import annotations

import logging
import sys

from service.config import Settings
from service.runner import run_job
from service.store import Store


def main(argv: list[str]) -> int:
    """Run the job named by ``argv[0]``; exit 0 when it ended (succeeded or failed), 1 on a crash."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    job_id = int(argv[0])
    settings = Settings()
    store = Store(settings.database_url, apply_migrations=False)
    if store.get_job(job_id).status not in ("queued", "running"):
        return 0
    job = run_job(store, job_id, settings)
    print(f"job {job_id} {job.status}" + (f": {job.error}" if job.error else ""), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
