"""REST routes. Thin: validation by pydantic, work done by the store and the job dispatcher."""

from __future__ import annotations

import secrets
from typing import Annotated, Any, Literal

import requests
from fastapi import APIRouter, Body, Depends, HTTPException, Path, Query, Request, Response, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import text

from sampler_space.strategies import describe_strategies
from service.api.schemas import Health, JobOut, JobPage, StrategyOut, TaskOut, TrialOut
from service.cluster import InsufficientResourcesError, check_resources
from service.jobs import job_sampler_document
from service.jobs.artifacts import REFERENCE_MODEL, WEIGHTS
from service.jobs.warm_start import WarmStartError, check_sources
from service.models import JobStatus
from service.spec import AnyJobSpec, JobSpec, StrategyJobSpec
from workers.tasks import get_task, list_tasks, load_task_data
from workers.tasks.definition import TaskDataError

_bearer = HTTPBearer(auto_error=False)


def controller(request: Request) -> Any:
    return request.app.state.controller


Controller = Annotated[Any, Depends(controller)]


#: paths anyone may read: health and the API's own documentation
PUBLIC_PATHS = frozenset({"/health", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json", "/ui/login",
                          "/static/docs/swagger-ui-bundle.js", "/static/docs/swagger-ui.css",
                          "/static/docs/redoc.standalone.js", "/static/docs/favicon.png"})


def token_matches(authorization: str | None, token: str) -> bool:
    """True when an ``Authorization`` header value is ``Bearer <token>`` (compared in constant time)."""
    scheme, _, given = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and secrets.compare_digest(given.strip().encode(), token.encode())


#: the web view's cookie: the API token, set by /ui/login (HttpOnly, SameSite=Strict)
TOKEN_COOKIE = "samplersearch_token"


def authorized(request: Request, token: str) -> bool:
    """The bearer token in ``Authorization``, or the web view's cookie, on a read (GET/HEAD) or on
    the web view's own forms; a SameSite=Strict cookie is never sent by another site's page."""
    if token_matches(request.headers.get("authorization"), token):
        return True
    cookie = request.cookies.get(TOKEN_COOKIE)
    if cookie is None or not secrets.compare_digest(cookie.encode(), token.encode()):
        return False
    return request.method in ("GET", "HEAD") or request.url.path.startswith("/ui/")


def require_token(request: Request,
                  credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> None:
    """When ``SAMPLERSEARCH_API_TOKEN`` is set, demand ``Authorization: Bearer <token>`` (or, for
    reads, the web view's cookie). The app's middleware checks the same before the body is read;
    this dependency documents it in OpenAPI."""
    token = request.app.state.controller.settings.api_token
    if token is None:
        return
    if not authorized(request, token.get_secret_value()):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing or wrong bearer token",
                            headers={"WWW-Authenticate": "Bearer"})


# Ids and offsets fit the database's 32-bit integer columns; larger ones are a 422, not an overflow.
MAX_ID = 2**31 - 1
JobId = Annotated[int, Path(ge=1, le=MAX_ID, description="the job's id")]
TrialIndex = Annotated[int, Path(ge=0, le=MAX_ID, description="the trial's index within its job")]

_JOB_NOT_FOUND = {404: {"description": "no job with that id"}}

router = APIRouter()
# The routes that need the bearer token when one is configured (see ``api_routes``).
jobs = APIRouter(responses={400: {"description": "the request body is not valid JSON"}})


def api_routes(token_required: bool) -> APIRouter:
    """Every route; all but ``/health`` demand the bearer token when ``token_required``, and only
    then does the OpenAPI document declare the security scheme and the 401 answer."""
    combined = APIRouter()
    combined.include_router(router)
    if token_required:
        combined.include_router(jobs, dependencies=[Depends(require_token)],
                                responses={401: {"description": "missing or wrong bearer token"}})
    else:
        combined.include_router(jobs)
    return combined

EXAMPLE_STRATEGY_JOB = {
    "kind": "strategy",
    "task": {"name": "mnist1d", "label_noise": 0.4},
    "strategy": {"name": "adaselection", "options": {"rate": 0.3, "beta": 0.5}},
    "run": {"seeds": 3, "epochs": 30, "data_seed": 0, "parallel": 2},
    "resources": {"cpu": 1, "gpu": 0},
}
EXAMPLE_JOB = {
    "kind": "search",
    "task": {"name": "mnist1d", "label_noise": 0.4},
    "search": {"trials": 40, "initial": 8, "parallel": 2, "searcher": "gp-ucb", "fine_tune_epochs": 5,
               "ucb_beta": 2.0, "seed": 0},
    "resources": {"cpu": 1, "gpu": 0},
}


def _invalid(location: list[str], message: str) -> HTTPException:
    """A 422 shaped like FastAPI's own validation errors, naming the field."""
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                         detail=[{"loc": ["body", *location], "msg": message, "type": "value_error"}])


def _check_feasible(spec: JobSpec | StrategyJobSpec, ctl: Any) -> None:
    settings = ctl.settings
    if isinstance(spec, JobSpec) and spec.search.trials > settings.max_trials:
        raise _invalid(["search", "trials"], f"at most {settings.max_trials} trials per job (SAMPLERSEARCH_MAX_TRIALS)")
    if isinstance(spec, JobSpec):
        try:
            check_sources(ctl.store, spec)
        except WarmStartError as error:
            raise _invalid(["search", "warm_start"], str(error)) from None
    if get_task(spec.task.name).takes_data:  # the whole file is checked now: a bad one never queues
        seed = spec.search.seed if isinstance(spec, JobSpec) else spec.run.data_seed
        try:
            load_task_data(spec.task.to_task_spec(), seed, settings.task_paths())
        except TaskDataError as error:
            raise _invalid(["task", "data"], str(error)) from None
    try:
        check_resources(spec.resources, ctl.cluster.resources())
    except InsufficientResourcesError as error:
        raise _invalid(error.field.split("."), error.message) from None
    except requests.RequestException as error:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"the Ray cluster does not answer: {error}") from None


def job_outs(ctl: Any, jobs: list) -> list[JobOut]:
    """``JobOut`` of each job, with progress and best trial from two aggregate queries (API and web view)."""
    ids = [job.id for job in jobs]
    progress, best = ctl.store.progress(ids), ctl.store.best_trials(ids)
    return [JobOut.of(job, progress.get(job.id), best.get(job.id), ctl.dashboard_url) for job in jobs]


def job_out(ctl: Any, job_id: int) -> JobOut:
    return job_outs(ctl, [ctl.store.get_job(job_id)])[0]


@jobs.post("/jobs", status_code=status.HTTP_201_CREATED, response_model=JobOut, tags=["jobs"])
def submit_job(ctl: Controller,
               spec: Annotated[AnyJobSpec, Body(examples=[EXAMPLE_JOB, EXAMPLE_STRATEGY_JOB])]) -> JobOut:
    """Queue a job: ``kind`` ``search`` (the default; a Swift Sampler search) or ``strategy`` (a
    fixed strategy trained from scratch for several seeds). The response echoes the spec with
    every default filled in."""
    _check_feasible(spec, ctl)
    job = ctl.store.create_job(spec.model_dump(), kind=spec.kind)
    created = job_out(ctl, job.id)
    ctl.dispatcher.wake()
    return created


@jobs.get("/jobs", response_model=JobPage, tags=["jobs"])
def list_jobs(ctl: Controller, status_filter: Annotated[JobStatus | None, Query(alias="status")] = None,
              limit: Annotated[int, Query(ge=1, le=500)] = 50,
              offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0) -> JobPage:
    """Jobs, newest first, optionally filtered by status."""
    page = ctl.store.list_jobs(status=status_filter, limit=limit, offset=offset)
    return JobPage(items=job_outs(ctl, page), total=ctl.store.count_jobs(status_filter), limit=limit, offset=offset)


@jobs.get("/jobs/{job_id}", response_model=JobOut, tags=["jobs"], responses=_JOB_NOT_FOUND)
def get_job(ctl: Controller, job_id: JobId) -> JobOut:
    return job_out(ctl, job_id)


@jobs.post("/jobs/{job_id}/cancel", response_model=JobOut, tags=["jobs"],
           responses={**_JOB_NOT_FOUND, 409: {"description": "the job has already ended"}})
def cancel_job(ctl: Controller, job_id: JobId) -> JobOut:
    """Stop a queued or running job within seconds; finished trials are kept."""
    if not ctl.dispatcher.cancel(job_id):
        raise HTTPException(status.HTTP_409_CONFLICT, f"job {job_id} has already ended")
    return job_out(ctl, job_id)


@jobs.get("/jobs/{job_id}/trials", response_model=list[TrialOut], tags=["trials"], responses=_JOB_NOT_FOUND)
def list_trials(ctl: Controller, job_id: JobId) -> list[TrialOut]:
    ctl.store.get_job(job_id)
    return [TrialOut.of(t) for t in ctl.store.trials(job_id)]


@jobs.get("/jobs/{job_id}/trials/{index}", response_model=TrialOut, tags=["trials"],
          responses={404: {"description": "no such job, or no such trial in it"}})
def get_trial(ctl: Controller, job_id: JobId, index: TrialIndex) -> TrialOut:
    ctl.store.get_job(job_id)
    trial = ctl.store.trial(job_id, index)
    if trial is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"job {job_id} has no trial {index}")
    return TrialOut.of(trial)


@jobs.get("/jobs/{job_id}/sampler", tags=["jobs"],
          responses={**_JOB_NOT_FOUND, 409: {"description": "no finished trial yet, or not a search job"}})
def get_sampler(ctl: Controller, job_id: JobId,
                trial: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None) -> dict[str, Any]:
    """The best trial's sampler JSON (or ``?trial=N``'s); 409 while there is no finished trial."""
    ctl.store.get_job(job_id)
    try:
        return job_sampler_document(ctl.store, job_id, trial)
    except LookupError as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None


def _artifact(ctl: Any, job_id: int, name: str) -> Response:
    job = ctl.store.get_job(job_id)
    if job.kind != "search":
        raise HTTPException(status.HTTP_409_CONFLICT, f"job {job_id} is a {job.kind} job; only search jobs have {name}")
    artifact = ctl.store.artifact(job_id, name)
    if artifact is None:
        raise HTTPException(status.HTTP_409_CONFLICT,
                            f"job {job_id} has no {name} (it is {job.status}); it is saved when the search succeeds")
    return Response(artifact.content, media_type=artifact.media_type,
                    headers={"Content-Disposition": f'attachment; filename="job-{job_id}-{name}"'})


_NO_ARTIFACT = {**_JOB_NOT_FOUND, 409: {"description": "not a search job, or it has not succeeded"}}


@jobs.get("/jobs/{job_id}/weights", tags=["jobs"], response_class=Response,
          responses={**_NO_ARTIFACT, 200: {"content": {"application/x-npy": {}},
                                           "description": "float32 .npy, one weight per training row"}})
def get_weights(ctl: Controller, job_id: JobId) -> Response:
    """The best sampler's (unnormalised) sampling weight of every row of the task's training split,
    in the order the task ships it: for ``arrays``, the rows of your ``x_train``, including the rows
    the job carved out for validation. Rows a long-tail ``imbalance`` dropped weigh 0. Feed it to
    ``WeightedIndexSampler``."""
    return _artifact(ctl, job_id, WEIGHTS)


@jobs.get("/jobs/{job_id}/reference-model", tags=["jobs"], response_class=Response,
          responses={**_NO_ARTIFACT, 200: {"content": {"application/octet-stream": {}},
                                           "description": "torch.save file; loads with weights_only=True"}})
def get_reference_model(ctl: Controller, job_id: JobId) -> Response:
    """The job's shared-weights model with the task spec it was trained on and its input
    standardisation; ``workers.reference_model.load_reference_model`` turns it into a module
    for ``features_from_model`` on new data."""
    return _artifact(ctl, job_id, REFERENCE_MODEL)


@jobs.get("/jobs/{job_id}/plots/{name}", tags=["jobs"], response_class=Response,
          responses={404: {"description": "no such job, or no such plot for its kind"},
                     409: {"description": "nothing to draw yet"},
                     200: {"content": {"image/png": {}, "image/svg+xml": {}}}})
def get_plot(ctl: Controller, job_id: JobId, name: Annotated[str, Path(max_length=32)],
             format: Annotated[Literal["png", "svg"], Query()] = "png") -> Response:
    """A plot of the job, drawn from the store: ``history``, ``sampler``, ``weights``,
    ``importance``, ``timeline`` (search jobs); ``curves``, ``timeline`` (strategy jobs)."""
    from service.plots import FORMATS, PlotUnavailableError, render

    ctl.store.get_job(job_id)
    try:
        content = render(ctl.store, job_id, name, format)
    except KeyError as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error.args[0])) from None
    except PlotUnavailableError as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None
    return Response(content, media_type=FORMATS[format])


@jobs.get("/tasks", response_model=list[TaskOut], tags=["tasks"])
def get_tasks() -> list[TaskOut]:
    return [TaskOut(name=t.name, description=t.description, size=t.size_hint, defaults=t.recipe.to_dict())
            for t in list_tasks()]


@jobs.get("/strategies", response_model=list[StrategyOut], tags=["tasks"])
def get_strategies() -> list[StrategyOut]:
    """Fixed strategies a ``strategy`` job can run, with their parameters and defaults."""
    listed = [s for s in describe_strategies() if s["name"] != "static-weights"]
    listed.append({"name": "swift", "description": "fixed weights from an exported Swift Sampler",
                   "parameters": [{"name": "sampler", "default": None, "description": "the sampler JSON document"}]})
    return [StrategyOut.model_validate(s) for s in listed]


@router.get("/health", response_model=Health, tags=["health"])
def health(ctl: Controller) -> Health:
    """Database and Ray reachability, and where the Ray dashboard is. Needs no token."""
    try:
        with ctl.store.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        database = True
    except Exception:  # noqa: BLE001 - reported as unhealthy, not raised
        database = False
    ray_ok = ctl.cluster.healthy()
    return Health(status="ok" if database and ray_ok else "degraded", database=database, ray=ray_ok,
                  ray_address=ctl.cluster.jobs_url, ray_dashboard=ctl.dashboard_url,
                  running_jobs=ctl.dispatcher.running_jobs())

