"""Swagger UI and ReDoc from files inside the installed packages (the assets ``fastapi-offline``
ships, MIT-licensed), so that ``/docs`` and ``/redoc`` work on an air-gapped cluster: FastAPI's
defaults load them from a public CDN, which leaves blank pages offline."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_ASSETS = "/static/docs"
#: the browser may fetch nothing from another host (ReDoc's bundle would load its badge from a CDN)
SAME_ORIGIN_ONLY = ("default-src 'self'; img-src 'self' data: blob:; script-src 'self' 'unsafe-inline' blob:; "
                    "style-src 'self' 'unsafe-inline'; worker-src 'self' blob:; connect-src 'self'; font-src 'self' data:")


def same_origin_only(response: HTMLResponse) -> HTMLResponse:
    response.headers["Content-Security-Policy"] = SAME_ORIGIN_ONLY
    return response


def docs_assets_directory() -> Path:
    import fastapi_offline

    return Path(fastapi_offline.__file__).parent / "static"


def add_offline_docs(app: FastAPI) -> None:
    """Mount the assets at ``DOCS_ASSETS`` and serve ``/docs``, its OAuth2 redirect and ``/redoc``."""
    app.mount(DOCS_ASSETS, StaticFiles(directory=docs_assets_directory()), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return same_origin_only(get_swagger_ui_html(openapi_url=app.openapi_url or "/openapi.json",
                                                    title=f"{app.title} - API",
                                   oauth2_redirect_url="/docs/oauth2-redirect",
                                   swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
                                   swagger_favicon_url=f"{DOCS_ASSETS}/favicon.png"))

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return same_origin_only(get_redoc_html(openapi_url=app.openapi_url or "/openapi.json",
                                               title=f"{app.title} - ReDoc",
                              redoc_js_url=f"{DOCS_ASSETS}/redoc.standalone.js",
                              redoc_favicon_url=f"{DOCS_ASSETS}/favicon.png", with_google_fonts=False))
