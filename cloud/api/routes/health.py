"""``GET /api/health`` (no login): the store answers, the registry is loaded."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Response, status
from sqlalchemy.exc import SQLAlchemyError

from cloud.api.deps import AlertStoreDep, RegistryDep, StoreDep
from cloud.api.schemas import HealthOut
from cloud.store.base import CLIMATE, StoreUnavailable

log = logging.getLogger(__name__)
router = APIRouter(tags=["health"])


@router.get("/health", summary="Sundhed / health")
def health(
    response: Response, store: StoreDep, registry: RegistryDep, alerts: AlertStoreDep
) -> HealthOut:
    """200 when the time-series store and the alerts database answer; 503 otherwise."""
    now = datetime.now(UTC)
    store_state = alerts_state = "ok"
    try:
        store.query(CLIMATE, now - timedelta(seconds=1), now, where={"building": "_health"})
    except StoreUnavailable as exc:
        log.warning("health: store unavailable: %s", exc)
        store_state = f"utilgængelig / unavailable: {exc}"
    try:
        alerts.query(building="_health")
    except SQLAlchemyError as exc:
        log.warning("health: alerts database unavailable: %s", exc)
        alerts_state = "utilgængelig / unavailable"
    ok = store_state == alerts_state == "ok"
    if not ok:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return HealthOut(
        status="ok" if ok else "fejl / failing",
        store=store_state,
        alerts_db=alerts_state,
        registry_buildings=len(registry.buildings),
        registry_flats=sum(len(b.flats) for b in registry.buildings),
    )
