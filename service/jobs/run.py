"""Drive one job of either kind to a final status: the job driver's whole work.

It runs in one process per job (two ``Tuner.fit`` calls in one process race inside Ray Tune):
a Ray job submitted by the controller, or the CLI's own process. The store is the source of
truth: an interrupted job resumes from its finished trials.
"""

from __future__ import annotations

import logging
from typing import Any

from service.cluster import check_resources, connect_driver, driver_cluster_resources, in_ray_job
from service.config import Settings
from service.errors import one_line
from service.jobs.finish import finish_job
from service.jobs.search import run_search
from service.jobs.strategy import run_strategy_job
from service.models import Job, JobStatus, utcnow
from service.spec import StrategyJobSpec, parse_job_spec
from service.store import Store

logger = logging.getLogger(__name__)


def run_job(store: Store, job_id: int, settings: Settings, search_alg: Any = None) -> Job:
    """Drive job ``job_id`` (already in the store) to a final status; return its row.

    Connects to Ray first (``connect_driver``). ``search_alg`` overrides a search job's searcher
    (tests use it to inject a failing point). Errors before or around the Tune run mark the job
    ``failed`` with the message; a failed trial only marks that trial.
    """
    job = store.get_job(job_id)
    spec = parse_job_spec(job.spec)
    store.update_job(job_id, status=JobStatus.RUNNING, started_at=job.started_at or utcnow(), error=None)
    try:
        connect_driver(settings)
        check_resources(spec.resources, driver_cluster_resources())
        if isinstance(spec, StrategyJobSpec):
            run_strategy_job(store, job_id, spec, settings)
        else:
            run_search(store, job_id, spec, settings, search_alg)
        return finish_job(store, job_id)
    except Exception as error:
        # One line for the CLI's user; the traceback in a Ray job's driver log, or at DEBUG.
        message = one_line(error)
        logger.warning("job %s failed: %s", job_id, message)
        logger.log(logging.ERROR if in_ray_job() else logging.DEBUG, "job %s traceback", job_id, exc_info=True)
        if store.get_job(job_id).status == JobStatus.CANCELLED:
            return store.get_job(job_id)
        return store.update_job(job_id, status=JobStatus.FAILED, error=message,
                                finished_at=utcnow())
