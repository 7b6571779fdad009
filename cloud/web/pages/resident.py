"""The resident's pages: "nu" (rooms now, mould risk, alerts) and the charts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

from fastapi import APIRouter, Request
from starlette.responses import Response

from cloud.accounts.principal import Role
from cloud.accounts.scope import FlatView, check_flat
from cloud.web.common import PageDenied, guarded, page
from cloud.web.data import latest_by_room, mould_by_room
from cloud.web.session import WebSession
from cloud.web.texts import ALERT_KINDS, QUANTITY_LABELS, RANGES, SEVERITIES
from cloud.web.views import chart_payload, rooms_now

router = APIRouter(include_in_schema=False)

RANGE_SPANS: Final = {
    "day": timedelta(days=1),
    "week": timedelta(days=7),
    "month": timedelta(days=31),
    "year": timedelta(days=365),
}


def resident_flat(user: WebSession, flat: str | None) -> tuple[str, str]:
    """The (building, flat) the resident asked for, or their first; refused like the API."""
    principal = user.principal
    pairs = sorted(principal.flats)
    if not pairs:
        raise PageDenied(
            404,
            "Du er ikke knyttet til en lejlighed; kontakt administrator / you are not linked "
            "to a flat; contact your administrator",
        )
    if flat is None:
        return pairs[0]
    building = next((b for b, f in pairs if f == flat), "")
    guarded(lambda: check_flat(principal, building, flat, FlatView.DETAIL, consented=False))
    return building, flat


def now_page(request: Request, user: WebSession, flat: str | None = None) -> Response:
    if user.principal.role is not Role.RESIDENT:
        raise PageDenied(403, "Kun for beboere / residents only")
    context = request.app.state.context
    building, flat_id = resident_flat(user, flat)
    now = datetime.now(UTC)
    rooms = rooms_now(latest_by_room(context.store, building, flat_id, now), now)
    mould = mould_by_room(context.store, building, flat_id, now)
    alerts = [a for a in context.alerts.query(building=building, flat=flat_id) if a.open]
    return page(
        request,
        user,
        "resident/now.html",
        {
            "flat": flat_id,
            "flats": sorted(f for _b, f in user.principal.flats),
            "rooms": rooms,
            "mould": mould,
            "alerts": alerts,
            "labels": QUANTITY_LABELS,
            "alert_kinds": ALERT_KINDS,
            "severities": SEVERITIES,
            "now": now,
        },
    )


@router.get("/charts")
def charts(request: Request, range: str = "week", flat: str | None = None) -> Response:
    from cloud.web.common import current_session

    user = current_session(request)
    if user.principal.role is not Role.RESIDENT:
        raise PageDenied(403, "Kun for beboere / residents only")
    building, flat_id = resident_flat(user, flat)
    return chart_page(request, user, building, flat_id, range, "resident/charts.html")


def chart_page(
    request: Request, user: WebSession, building: str, flat_id: str, range: str, template: str
) -> Response:
    from cloud.web.data import climate_rooms

    chosen = range if range in RANGE_SPANS else "week"
    end = datetime.now(UTC)
    start = end - RANGE_SPANS[chosen]
    series, resolution = climate_rooms(request.app.state.context.store, building, flat_id, start, end)
    charts = {
        q: chart_payload(series, f"{q}_mean") for q in ("temperature_c", "humidity_pct", "co2_ppm")
    }
    return page(
        request,
        user,
        template,
        {
            "flat": flat_id,
            "range": chosen,
            "ranges": RANGES,
            "labels": QUANTITY_LABELS,
            "charts": charts,
            "resolution": resolution,
            "has_data": any(s.time for s in series),
        },
    )
