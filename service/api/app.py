"""The FastAPI application and its lifespan: store, Ray cluster (a local head or a joined
cluster's Job API) and the job dispatcher."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from service.api.docs import add_offline_docs
from service.api.limits import BodySizeLimit
from service.api.routes import PUBLIC_PATHS, api_routes, authorized
from service.api.ui import ui_routes
from service.cluster import RayCluster, open_cluster
from service.config import Settings
from service.dispatch import JobDispatcher
from service.store import JobNotFoundError, Store

logger = logging.getLogger(__name__)


@dataclass
class Controller:
    """What the routes share: settings, store, dispatcher and the Ray cluster."""

    settings: Settings
    store: Store
    dispatcher: JobDispatcher
    cluster: RayCluster

    @property
    def dashboard_url(self) -> str | None:
        return self.cluster.dashboard_url


def documented_methods(openapi: dict, path: str) -> list[str]:
    """The HTTP methods the OpenAPI document lists for ``path`` (templates such as
    ``/jobs/{job_id}`` match one path segment per parameter), sorted."""
    methods: set[str] = set()
    for template, operations in openapi.get("paths", {}).items():
        pattern = "".join("[^/]+" if part.startswith("{") else re.escape(part)
                          for part in re.split(r"(\{[^}]+\})", template))
        if re.fullmatch(pattern, path):
            methods |= {method.upper() for method in operations if method.upper() in _HTTP_METHODS}
    return sorted(methods)


_HTTP_METHODS = {"GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE"}


def create_app(settings: Settings | None = None, public_url: str | None = None) -> FastAPI:
    """The REST controller. Migrations run and Ray starts when the app starts, not on import.
    ``public_url`` (default ``settings.public_url``) is where users reach the service."""
    settings = settings or Settings()
    public_url = settings.public_url or public_url

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = Store(settings.database_url)
        cluster = open_cluster(settings)
        dispatcher = JobDispatcher(store, cluster, settings, public_url=public_url)
        dispatcher.start()
        app.state.controller = Controller(settings, store, dispatcher, cluster)
        print(f"samplersearch: {f'API {public_url}, ' if public_url else ''}"
              f"store {store.engine.url.render_as_string(hide_password=True)}, "
              f"Ray jobs {cluster.jobs_url}, dashboard {cluster.dashboard_url}", file=sys.stderr, flush=True)
        try:
            yield
        finally:
            dispatcher.stop()
            store.dispose()
            cluster.close()

    app = FastAPI(
        title="samplersearch",
        summary="Search data samplers (Swift Sampler, GP-UCB on Ray Tune) and download the best as JSON.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None, redoc_url=None,  # served below from local files: no page refers to another host
    )
    add_offline_docs(app)
    app.include_router(api_routes(token_required=settings.api_token is not None))
    app.include_router(ui_routes(token_required=settings.api_token is not None))

    if settings.api_token is not None:
        token = settings.api_token.get_secret_value()

        @app.middleware("http")
        async def _authenticate_first(request: Request, call_next):  # noqa: ANN001, ANN202
            # Before routing reads the body: a wrong token gets 401 whatever the body holds.
            if request.url.path not in PUBLIC_PATHS and not authorized(request, token):
                if request.url.path == "/ui" or request.url.path.startswith("/ui/"):
                    return RedirectResponse("/ui/login", status_code=303)
                return JSONResponse(status_code=401, content={"detail": "missing or wrong bearer token"},
                                    headers={"WWW-Authenticate": "Bearer"})
            return await call_next(request)

    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        # Job bodies are a union tagged by ``kind``; pydantic puts the tag into every error
        # location (body -> search -> task -> name). Drop it so the location names the field.
        errors = []
        for item in error.errors():
            loc = list(item.get("loc", ()))
            if len(loc) >= 2 and loc[0] == "body" and loc[1] in ("search", "strategy") and request.url.path == "/jobs":
                loc = [loc[0], *loc[2:]] if len(loc) > 2 else loc
            # Only where and what: the offending input is not echoed (it may be huge, or NaN,
            # which is not JSON).
            loc = [part[:100] if isinstance(part, str) else part for part in loc]
            errors.append({"loc": loc, "msg": str(item.get("msg", ""))[:500], "type": item.get("type", "value_error")})
        return JSONResponse(status_code=422, content=jsonable_encoder({"detail": errors}))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, error: StarletteHTTPException) -> Response:
        response = await http_exception_handler(request, error)
        if error.status_code == 405:
            # Starlette's Allow names the first route that matched the path; list them all.
            methods = documented_methods(app.openapi(), request.url.path)
            if methods:
                response.headers["Allow"] = ", ".join(methods)
        return response

    @app.exception_handler(JobNotFoundError)
    async def _job_not_found(request: Request, error: JobNotFoundError) -> JSONResponse:
        return JSONResponse(status_code=404, content={"detail": str(error)})

    return app
