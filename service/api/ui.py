"""The web view at ``/ui``: server-rendered Jinja2 pages of jobs and trials, with the plots and
download links, a cancel button and a little vanilla JS (auto-refresh, sortable table). Nothing
is loaded from another host. With an API token, a small form sets it as a cookie once per
browser session (HttpOnly, SameSite=Strict; never in a URL)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from service.api.docs import same_origin_only
from service.api.routes import TOKEN_COOKIE, JobId, job_out, job_outs
from service.api.schemas import TrialOut
from service.jobs.artifacts import REFERENCE_MODEL, WEIGHTS
from service.models import JobStatus
from service.plots import plot_names

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def _page(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
    """A rendered template that may load nothing from another host."""
    return same_origin_only(TEMPLATES.TemplateResponse(request, name, context, status_code=status_code))


def _age(moment: datetime | None) -> str:
    if moment is None:
        return "-"
    moment = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    seconds = (datetime.now(timezone.utc) - moment).total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} s"


TEMPLATES.env.filters["age"] = _age
TEMPLATES.env.filters["pretty"] = lambda value: json.dumps(value, indent=2, sort_keys=True)


def _controller(request: Request) -> Any:
    return request.app.state.controller


def ui_routes(token_required: bool) -> APIRouter:
    """The ``/ui`` pages (the app's middleware sends a browser without the cookie to the login form)."""
    router = APIRouter(prefix="/ui", include_in_schema=False)

    @router.get("", response_class=HTMLResponse)
    def job_list(request: Request) -> Response:
        ctl = _controller(request)
        jobs = job_outs(ctl, ctl.store.list_jobs(limit=200))
        running = any(j.status in (JobStatus.QUEUED, JobStatus.RUNNING) for j in jobs)
        return _page(request, "jobs.html", {"jobs": jobs, "refresh": running})

    @router.get("/jobs/{job_id}", response_class=HTMLResponse)
    def job_page(request: Request, job_id: JobId) -> Response:
        ctl = _controller(request)
        job = job_out(ctl, job_id)
        trials = [TrialOut.of(t) for t in ctl.store.trials(job_id)]
        artifacts = ctl.store.artifact_names(job_id)
        downloads = [(f"/jobs/{job_id}/sampler", "sampler JSON")] if job.best_trial is not None else []
        downloads += [(f"/jobs/{job_id}/weights", WEIGHTS)] if WEIGHTS in artifacts else []
        downloads += [(f"/jobs/{job_id}/reference-model", REFERENCE_MODEL)] if REFERENCE_MODEL in artifacts else []
        live = job.status in (JobStatus.QUEUED, JobStatus.RUNNING)
        return _page(request, "job.html", {
            "job": job, "trials": trials, "plots": plot_names(job.kind), "downloads": downloads, "live": live,
            "spec": job.spec.model_dump(), "percent": round(100 * job.trials_done / max(1, job.trials_total))})

    @router.get("/jobs/{job_id}/trials", response_class=HTMLResponse)
    def trial_rows(request: Request, job_id: JobId) -> Response:
        """The trials table's rows alone, for the job page's auto-refresh."""
        ctl = _controller(request)
        ctl.store.get_job(job_id)
        trials = [TrialOut.of(t) for t in ctl.store.trials(job_id)]
        return _page(request, "trial_rows.html", {"trials": trials})

    @router.post("/jobs/{job_id}/cancel")
    def cancel(request: Request, job_id: JobId) -> Response:
        _controller(request).dispatcher.cancel(job_id)
        return RedirectResponse(f"/ui/jobs/{job_id}", status_code=status.HTTP_303_SEE_OTHER)

    @router.get("/login", response_class=HTMLResponse)
    def login_form(request: Request) -> Response:
        return _page(request, "login.html", {"wrong": False, "needed": token_required})

    @router.post("/login", response_class=HTMLResponse)
    def login(request: Request, token: Annotated[str, Form(max_length=512)]) -> Response:
        expected = _controller(request).settings.api_token
        if expected is not None and token != expected.get_secret_value():
            return _page(request, "login.html", {"wrong": True, "needed": True},
                                              status_code=status.HTTP_401_UNAUTHORIZED)
        response = RedirectResponse("/ui", status_code=status.HTTP_303_SEE_OTHER)
        response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict", path="/")
        return response

    return router
