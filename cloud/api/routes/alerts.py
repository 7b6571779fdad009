"""``GET /api/v1/alerts`` (technician): alerts from the alert store the jobs write, newest first,
with the residents' advice in Danish and English."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from cloud.analytics.alerts import AlertKind, AlertState
from cloud.api.auth import TechnicianRole
from cloud.api.deps import AlertStoreDep
from cloud.api.schemas import AlertOut

router = APIRouter(tags=["alerts"])


def _aware(name: str, moment: datetime | None) -> datetime | None:
    if moment is not None and moment.tzinfo is None:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"{name} mangler tidszone: skriv fx 2026-01-31T00:00:00Z / {name} has no time "
            "zone: write e.g. 2026-01-31T00:00:00Z",
        )
    return moment


@router.get("/alerts", summary="Alarmer / alerts")
def list_alerts(
    _role: TechnicianRole,
    alerts: AlertStoreDep,
    building: str | None = None,
    flat: str | None = None,
    state: Annotated[list[AlertState] | None, Query(description="repeat for several")] = None,
    kind: Annotated[list[AlertKind] | None, Query(description="repeat for several")] = None,
    since: Annotated[datetime | None, Query(description="updated at or after (UTC)")] = None,
    until: Annotated[datetime | None, Query(description="updated before (UTC)")] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> list[AlertOut]:
    found = alerts.query(
        building=building,
        flat=flat,
        states=state,
        kinds=kind,
        since=_aware("since", since),
        until=_aware("until", until),
    )
    return [AlertOut.model_validate(a.to_json()) for a in found[:limit]]
