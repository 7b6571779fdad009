"""``/docs`` without a network: Swagger UI served from the vendored copy in
``static/swagger-ui`` (npm ``swagger-ui-dist``; version, licence and checksums beside it)."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS: Final = Path(__file__).parent / "static" / "swagger-ui"
STATIC: Final = "/docs/static"


def install(app: FastAPI) -> None:
    """Serve ``/docs`` (and its OAuth2 redirect) with local assets; the app must be made with
    ``docs_url=None``."""
    app.mount(STATIC, StaticFiles(directory=ASSETS), name="swagger-ui")
    redirect = "/docs/oauth2-redirect"

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} – docs",
            oauth2_redirect_url=redirect,
            swagger_js_url=f"{STATIC}/swagger-ui-bundle.js",
            swagger_css_url=f"{STATIC}/swagger-ui.css",
            swagger_favicon_url=f"{STATIC}/favicon-32x32.png",
        )

    @app.get(redirect, include_in_schema=False)
    def swagger_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()
