"""``GET /api/alerts``: alerts from the alert store the jobs write, newest first, with the
residents' advice in Danish and English — a technician's buildings, a resident's own flats
(`cloud.accounts.scope.alert_scope`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from cloud.accounts import scope
from cloud.accounts.http import CurrentPrincipal
from cloud.analytics.alerts import AlertKind, AlertState
from cloud.api.deps import AlertStoreDep, Moment
from cloud.api.schemas import AlertOut

router = APIRouter(tags=["alerts"])


@router.get("/alerts", summary="Alarmer / alerts")
def list_alerts(
    principal: CurrentPrincipal,
    alerts: AlertStoreDep,
    building: Annotated[str | None, Query(max_length=64)] = None,
    flat: Annotated[str | None, Query(max_length=64)] = None,
    state: Annotated[list[AlertState] | None, Query(description="repeat for several")] = None,
    kind: Annotated[list[AlertKind] | None, Query(description="repeat for several")] = None,
    since: Annotated[Moment | None, Query(description="updated at or after (UTC)")] = None,
    until: Annotated[Moment | None, Query(description="updated before (UTC)")] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> list[AlertOut]:
    """Filtered to what the caller may see: other buildings' or flats' alerts are simply not
    in the list, nor, for a resident, alerts that ended before they moved in."""
    buildings, flats = scope.alert_scope(principal)
    found = alerts.query(
        building=building, flat=flat, states=state, kinds=kind, since=since, until=until
    )
    visible = [
        a
        for a in found
        if (buildings is None or a.building in buildings)
        and (flats is None or a.flat in flats)
        and scope.alert_in_tenancy(principal, a.flat, a.raised_at, a.cleared_at or a.updated_at)
    ]
    return [AlertOut.model_validate(a.to_json()) for a in visible[:limit]]
