"""The web pages residents, technicians, finance and admins use, served by the API's FastAPI app.

``install_pages(app)`` adds the page routes (``/``, ``/login``, …), the static assets under
``/static`` (vendored Det Fælles Designsystem and uPlot; no build step) and the handlers that turn
"log in first" and "not for you" into pages. Pages read through the same services as the API
(``app.state.context``: the store, the alert store, the accounts, the settlement runs) and are
refused by the same authorisation module (`cloud.accounts.scope`). Texts are in gettext catalogs
(`cloud.web.i18n`); the view functions (`cloud.web.views`) take plain data.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Final

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

log = logging.getLogger(__name__)
STATIC_DIR: Final = Path(__file__).parent / "static"
SECRET_ENV: Final = "INDEKLIMA_WEB_SECRET_KEY"


def install_pages(app: FastAPI) -> None:
    from cloud.web import csrf
    from cloud.web.common import install_handlers
    from cloud.web.pages import admin, auth, finance, home, resident, technician

    secret = os.environ.get(SECRET_ENV, "")
    app.state.web_csrf_key = secret.encode() if len(secret) >= 32 else csrf.new_key()
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for module in (auth, home, resident, technician, finance, admin):
        app.include_router(module.router)
    install_handlers(app)
    _own_stores(app)


def _own_stores(app: FastAPI) -> None:
    """Open the pages' own stores inside the app's lifespan (after the app's own: the alert
    acknowledgements in the alert store's database, the invitations in the accounts database)
    and close them after, so the app's owner starts and stops everything in one place."""
    from cloud.analytics.alert_acks import AlertAcks
    from cloud.web.invitations import Invitations

    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        async with inner(app) as state:
            acks = AlertAcks(app.state.settings.alerts_url)
            app.state.web_alert_acks = acks
            accounts = getattr(app.state, "accounts", None)
            if accounts is None:
                log.warning("no accounts on the app: the web pages answer 503 until there are")
            else:
                app.state.web_invitations = Invitations(accounts.engine, accounts.passwords)
            try:
                yield state
            finally:
                acks.close()

    app.router.lifespan_context = lifespan


__all__ = ["install_pages"]
