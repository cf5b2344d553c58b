"""Close a job once its Tune run has ended: its final status, best trial and error."""

from __future__ import annotations

from typing import Any

from service.models import Job, JobStatus, TrialStatus, utcnow
from service.spec import JobSpec, parse_job_spec
from service.store import Store


def trial_budget(spec: dict) -> int:
    """Trials a job of either kind asks for."""
    parsed = parse_job_spec(spec)
    return parsed.search.trials if isinstance(parsed, JobSpec) else parsed.run.seeds


def job_outcome(store: Store, job_id: int) -> dict[str, Any]:
    """The job's final fields once its Tune run has ended, not yet written: ``succeeded`` with
    the best trial; ``failed`` when no trial succeeded or the run stopped early, with a message
    that says how to continue it. Empty for a job cancelled meanwhile (it stays cancelled).

    Tune's run is over, so nothing runs any more: a trial still marked running was cut off
    (Ctrl-C, or a worker lost without Tune reporting it). It is closed as cancelled here, and
    re-run on resume."""
    job = store.get_job(job_id)
    if job.status == JobStatus.CANCELLED:
        return {}
    store.cancel_running_trials(job_id, "not finished when the job's Tune run ended")
    trials = store.trials(job_id)
    expected = trial_budget(job.spec)
    done = sum(t.status.finished for t in trials)
    if done < expected:
        return {"status": JobStatus.FAILED, "finished_at": utcnow(),
                "error": f"interrupted after {done} of {expected} trials; "
                         f"`samplersearch resume --job {job_id}` continues it"}
    best = store.best_trial(job_id)
    if best is None:
        errors = [t.error for t in trials if t.error and t.status == TrialStatus.FAILED]
        reason = f"all {len(trials)} trials failed" + (f"; first error: {errors[0]}" if errors else "")
        return {"status": JobStatus.FAILED, "error": reason, "finished_at": utcnow()}
    return {"status": JobStatus.SUCCEEDED, "best_trial_index": best.index, "finished_at": utcnow()}


def finish_job(store: Store, job_id: int, outcome: dict[str, Any] | None = None) -> Job:
    """Write ``outcome`` (default: ``job_outcome``) unless the job was cancelled meanwhile."""
    outcome = job_outcome(store, job_id) if outcome is None else outcome
    if not outcome or store.get_job(job_id).status == JobStatus.CANCELLED:
        return store.get_job(job_id)
    return store.update_job(job_id, **outcome)
