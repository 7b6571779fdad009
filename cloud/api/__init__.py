"""The JSON API (FastAPI) for residents, technicians, finance and admins: login, flats and
consent, alerts, buildings, heat shares, settlements, GDPR export and erasure, audit.

``create_app(settings, store, registry)`` builds the app; `ApiServer` runs it in a thread. Who
may see what is decided by `cloud.accounts.scope` only.
"""

from cloud.api.main import create_app
from cloud.api.server import ApiServer
from cloud.api.settings import ApiSettings

__all__ = ["ApiServer", "ApiSettings", "create_app"]
