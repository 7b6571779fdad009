"""The JSON API: ``create_app(settings, store, registry)``.

Everyone logs in (``POST /api/token``) and sees what their role and scope allow
(`cloud.accounts.scope`). The caller owns ``store`` and ``registry`` (the demo and the CLI open
them), and may hand in an open `Accounts` (then it owns that too); otherwise the app opens the
accounts database from ``settings.accounts_url`` — which must be at the newest schema
(``indeklima db upgrade``) — and adds the registry's buildings and flats to it. The app opens the
alert store, the run store and the run documents when it starts and closes them when it stops.
Interactive docs at ``/docs`` (Swagger UI served from this package: no network needed), the
schema at ``/openapi.json``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import APIRouter, FastAPI
from sqlalchemy.exc import IntegrityError

from cloud.accounts import Accounts, LoginPolicy
from cloud.accounts import db as accounts_db
from cloud.api import docs, errors
from cloud.api.deps import AppContext
from cloud.api.middleware import AccessLog, BodyLimit
from cloud.api.routes import (
    admin,
    alerts,
    buildings,
    flats,
    gateways,
    health,
    heat_shares,
    me,
    session,
    settlements,
    windows,
)
from cloud.api.settings import ApiSettings
from cloud.control import ControlClient
from cloud.mail.web import mount_unsubscribe
from cloud.registry import Registry
from cloud.setpoint_book import SetpointBook
from cloud.settlement.tariff import default_tariff, load_tariff
from cloud.store.base import TimeSeriesStore

log = logging.getLogger(__name__)

API_PREFIX = "/api"


def open_accounts(settings: ApiSettings, registry: Registry) -> Accounts:
    """The accounts database of `settings`, checked to be at the newest schema (raises
    `SchemaOutOfDate` with the command to run), with the registry's buildings and flats."""
    engine = accounts_db.make_engine(settings.accounts_url)
    try:
        accounts_db.require_current(engine)
        try:
            accounts_db.seed_registry(engine, registry)
        except IntegrityError:  # another API process seeded the same flats just now
            accounts_db.seed_registry(engine, registry)
    except Exception:
        engine.dispose()
        raise
    return Accounts(engine, policy=LoginPolicy(session_ttl=timedelta(hours=settings.session_hours)))


def create_app(
    settings: ApiSettings,
    store: TimeSeriesStore,
    registry: Registry,
    *,
    accounts: Accounts | None = None,
    control: ControlClient | None = None,
    setpoint_book: SetpointBook | None = None,
) -> FastAPI:
    """The API over an open store and a loaded registry. Raises `TariffError` when the
    configured tariff is not valid and `SchemaOutOfDate` when the accounts database needs
    ``indeklima db upgrade`` (fail fast, before serving)."""
    tariff = load_tariff(settings.tariff) if settings.tariff else default_tariff()
    owns_accounts = accounts is None
    people = accounts if accounts is not None else open_accounts(settings, registry)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        import anyio.to_thread

        from cloud.analytics.alert_store import AlertStore
        from cloud.api.documents import RunDocuments
        from cloud.settlement.runs import RunStore

        # this event loop's pool for the blocking handlers and dependencies
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.threads
        alert_store = AlertStore(settings.alerts_url)
        runs = RunStore(settings.runs_url)
        documents = RunDocuments(settings.runs_url)
        app.state.context = AppContext(
            store, registry, tariff, alert_store, runs, documents, people
        )
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
            if owns_accounts:
                people.close()
            log.info("API stopped")

    app = FastAPI(
        title="indeklima API",
        summary="Beboere, teknikere, administration: indeklima, samtykke, varmeregnskab / "
        "residents, technicians, finance: indoor climate, consent, heating settlement",
        version="2",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.accounts = people
    app.state.control = control  # window control (cloud/api/routes/windows.py); owner closes it
    app.state.setpoint_book = setpoint_book
    errors.install(app)
    docs.install(app)
    api = APIRouter(prefix=API_PREFIX)
    for module in (
        session,
        health,
        flats,
        me,
        alerts,
        buildings,
        heat_shares,
        settlements,
        admin,
        windows,
        gateways,
    ):
        api.include_router(module.router)
    app.include_router(api)
    mount_unsubscribe(app, settings.alerts_url)  # the alert e-mails' link, without login
    from cloud.web import install_pages

    install_pages(app)  # the web pages (cloud/web) on the same app and services
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(AccessLog)
    return app
