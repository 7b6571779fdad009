"""The technician and finance API (FastAPI): alerts, buildings, heat shares, settlements.

``create_app(settings, store, registry)`` builds the app; `ApiServer` runs it in a thread.
Residents' access (login, consent, per-flat scoping) comes later and is not here.
"""

from cloud.api.main import create_app
from cloud.api.server import ApiServer
from cloud.api.settings import ApiSettings

__all__ = ["ApiServer", "ApiSettings", "create_app"]
