"""The FastAPI application and its lifespan: store, Ray (local or joined) and job supervisor."""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import ray
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from service.api.routes import api_routes
from service.config import Settings
from service.runner import join_cluster
from service.store import JobNotFoundError, Store
from service.supervisor import JobSupervisor

logger = logging.getLogger(__name__)


@dataclass
class Controller:
    """What the routes share: settings, store, supervisor and the Ray endpoints."""

    settings: Settings
    store: Store
    supervisor: JobSupervisor
    ray_address: str
    dashboard_url: str | None


def start_ray(settings: Settings) -> tuple[str, str | None]:
    """Join ``settings.ray_address`` or start a local Ray; returns ``(gcs_address, dashboard_url)``.

    Must run on a long-lived thread (the lifespan's): Ray's daemons die with the thread that
    started them.
    """
    if settings.ray_address:
        context = join_cluster(settings.ray_address)
    else:
        # address="local" always starts a new instance, even if another Ray runs on this machine.
        context = ray.init(address="local", num_cpus=settings.num_cpus, include_dashboard=settings.dashboard,
                           dashboard_host="127.0.0.1", dashboard_port=settings.dashboard_port,
                           log_to_driver=False, logging_level=logging.WARNING)
    dashboard = settings.dashboard_url or context.dashboard_url or None
    if dashboard and not dashboard.startswith("http"):
        dashboard = f"http://{dashboard}"
    return ray.get_runtime_context().gcs_address, dashboard


def create_app(settings: Settings | None = None) -> FastAPI:
    """The REST controller. Migrations run and Ray starts when the app starts, not on import."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = Store(settings.database_url)
        address, dashboard = start_ray(settings)
        supervisor = JobSupervisor(store, settings, address, max_running_jobs=settings.max_running_jobs)
        supervisor.start()
        app.state.controller = Controller(settings, store, supervisor, address, dashboard)
        print(f"samplersearch: store {store.engine.url.render_as_string(hide_password=True)}, Ray {address}, "
              f"dashboard {dashboard or 'off'}", file=sys.stderr, flush=True)
        try:
            yield
        finally:
            supervisor.stop()
            store.dispose()
            ray.shutdown()

    app = FastAPI(
        title="samplersearch",
        summary="Search data samplers (Swift Sampler, GP-UCB on Ray Tune) and download the best as JSON.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.include_router(api_routes(token_required=settings.api_token is not None))

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        # Job bodies are a union tagged by ``kind``; pydantic puts the tag into every error
        # location (body -> search -> task -> name). Drop it so the location names the field.
        errors = []
        for item in error.errors():
            loc = list(item.get("loc", ()))
            if len(loc) >= 2 and loc[0] == "body" and loc[1] in ("search", "strategy") and request.url.path == "/jobs":
                loc = [loc[0], *loc[2:]] if len(loc) > 2 else loc
            errors.append({**item, "loc": loc})
        return JSONResponse(status_code=422, content=jsonable_encoder({"detail": errors}))

    @app.exception_handler(JobNotFoundError)
    async def _job_not_found(request: Request, error: JobNotFoundError) -> JSONResponse:
        return JSONResponse(status_code=404, content={"detail": str(error)})

    return app
