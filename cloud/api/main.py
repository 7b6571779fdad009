"""The technician and finance API: ``create_app(settings, store, registry)``.

The caller owns ``store`` and ``registry`` (the demo and the CLI open them); the app opens the
alert store, the run store and the run documents from ``settings`` when it starts and closes them
when it stops. Interactive docs at ``/docs``, the schema at ``/openapi.json``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from cloud.api import errors
from cloud.api.deps import AppContext
from cloud.api.routes import alerts, buildings, health, heat_shares, settlements
from cloud.api.settings import ApiSettings
from cloud.registry import Registry
from cloud.settlement.tariff import default_tariff, load_tariff
from cloud.store.base import TimeSeriesStore

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"


def create_app(settings: ApiSettings, store: TimeSeriesStore, registry: Registry) -> FastAPI:
    """The API over an open store and a loaded registry. Raises `TariffError` when the
    configured tariff file is not valid (fail fast, before serving)."""
    tariff = load_tariff(settings.tariff) if settings.tariff else default_tariff()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from cloud.analytics.alert_store import AlertStore
        from cloud.api.documents import RunDocuments
        from cloud.settlement.runs import RunStore

        alert_store = AlertStore(settings.alerts_url)
        runs = RunStore(settings.runs_url)
        documents = RunDocuments(settings.runs_url)
        app.state.context = AppContext(store, registry, tariff, alert_store, runs, documents)
        log.info(
            "API ready: %d buildings, alerts %s, runs %s, tariff %s",
            len(registry.buildings),
            settings.alerts_url,
            settings.runs_url,
            tariff.version,
        )
        try:
            yield
        finally:
            documents.close()
            runs.close()
            alert_store.close()
            log.info("API stopped")

    app = FastAPI(
        title="indeklima API",
        summary="Teknikere og administration: alarmer, bygninger, varmeregnskab / technicians "
        "and finance: alerts, buildings, heating settlement",
        version="1",
        lifespan=lifespan,
    )
    app.state.settings = settings
    errors.install(app)
    api = APIRouter(prefix=API_PREFIX)
    for module in (health, alerts, buildings, heat_shares, settlements):
        api.include_router(module.router)
    app.include_router(api)
    from cloud.web import install_pages

    install_pages(app)  # the web pages (cloud/web) on the same app and services
    return app
