"""Drive one job of either kind to a final status: the job driver's whole work.

It runs in one process per job (two ``Tuner.fit`` calls in one process race inside Ray Tune):
a Ray job submitted by the controller, or the CLI's own process. The store is the source of
truth: an interrupted job resumes from its finished trials.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from service.cluster import check_resources, connect_driver, driver_cluster_resources, in_ray_job
from service.config import Settings
from service.errors import one_line
from service.jobs.artifacts import save_search_artifacts
from service.jobs.finish import finish_job, job_outcome
from service.jobs.report import run_report
from service.jobs.search import run_search
from service.jobs.strategy import run_strategy_job
from service.jobs.verify import run_verify
from service.models import Job, JobStatus, utcnow
from service.spec import JobSpec, StrategyJobSpec, parse_job_spec
from service.store import Store

logger = logging.getLogger(__name__)


def _recommendation_or_best(store: Store, job_id: int, spec: JobSpec, prepared: Any,
                            settings: Settings) -> dict[str, Any]:
    """The verify stage's recommendation; if the stage itself fails, the best observed trial, saying so."""
    try:
        return run_verify(store, job_id, spec, prepared, settings)
    except Exception as error:  # noqa: BLE001 - the search succeeded; say why it was not verified
        logger.warning("job %s verify stage failed: %s", job_id, one_line(error), exc_info=in_ray_job())
        best = store.best_trial(job_id)
        return {"choice": "trial", "trial": best.index, "reason": f"verify stage failed ({one_line(error)}); "
                                                                   "the best observed trial, unverified"}


def _report_or_its_error(store: Store, job_id: int, spec: JobSpec, settings: Settings) -> dict[str, Any]:
    """The report stage's result; a failed stage is reported as such and keeps the search's result."""
    try:
        return run_report(store, job_id, spec, settings)
    except Exception as error:  # noqa: BLE001 - the search succeeded; the report says why it has no numbers
        logger.warning("job %s report stage failed: %s", job_id, one_line(error), exc_info=in_ray_job())
        return {"status": "failed", "error": one_line(error)}


def run_job(store: Store, job_id: int, settings: Settings, search_alg: Any = None,
            on_phase: Callable[[str], None] | None = None) -> Job:
    """Drive job ``job_id`` (already in the store) to a final status; return its row.

    Connects to Ray first (``connect_driver``). ``search_alg`` overrides a search job's searcher
    (tests use it to inject a failing point). ``on_phase`` hears what a search job's driver is
    doing before its trials start, and after (a CLI shows it). Errors before or around the Tune run mark the job
    ``failed`` with the message; a failed trial only marks that trial. A search job that
    succeeds saves its artifacts (``weights.npy``, ``reference-model.pt``) and, when its spec
    asks, runs the from-scratch report before it is marked succeeded.
    """
    job = store.get_job(job_id)
    spec = parse_job_spec(job.spec)
    store.update_job(job_id, status=JobStatus.RUNNING, started_at=job.started_at or utcnow(), error=None)
    try:
        connect_driver(settings)
        check_resources(spec.resources, driver_cluster_resources())
        if isinstance(spec, StrategyJobSpec):
            run_strategy_job(store, job_id, spec, settings)
            return finish_job(store, job_id)
        phase = on_phase or (lambda _now: None)
        prepared = run_search(store, job_id, spec, settings, search_alg, on_phase=phase)
        outcome = job_outcome(store, job_id)
        if outcome.get("status") == JobStatus.SUCCEEDED:
            if spec.verify.candidates:
                phase(f"verifying the top {spec.verify.candidates} against uniform on {spec.verify.seeds} fresh seeds"
                      + (" (from scratch)" if spec.verify.measure == "scratch" else ""))
            store.update_job(job_id, recommendation=_recommendation_or_best(store, job_id, spec, prepared, settings))
            phase("saving weights and reference model")
            save_search_artifacts(store, job_id, prepared)
            phase("trials done")
            if spec.report.scratch:
                store.update_job(job_id, report=_report_or_its_error(store, job_id, spec, settings))
        return finish_job(store, job_id, outcome)
    except Exception as error:
        # One line for the CLI's user; the traceback in a Ray job's driver log, or at DEBUG.
        message = one_line(error)
        logger.warning("job %s failed: %s", job_id, message)
        logger.log(logging.ERROR if in_ray_job() else logging.DEBUG, "job %s traceback", job_id, exc_info=True)
        if store.get_job(job_id).status == JobStatus.CANCELLED:
            return store.get_job(job_id)
        return store.update_job(job_id, status=JobStatus.FAILED, error=message,
                                finished_at=utcnow())
