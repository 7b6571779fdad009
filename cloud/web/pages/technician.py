"""The technician's pages: the estate (buildings → flats coloured by this month's index, consent
shown), alerts to acknowledge with a comment, sensor health, and a flat page whose charts appear
only while the flat's residents consent (each such view is audited, as the API's are); the flat
page also shows its windows' latest decisions, the building's set points and the week's
diagnosis (its evidence only with consent), from the window API's own functions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from cloud.accounts.audit import AuditAction
from cloud.accounts.http import client_address
from cloud.accounts.principal import Role
from cloud.accounts.scope import (
    FlatView,
    alert_scope,
    check_flat,
    needs_detail_audit,
    visible_buildings,
)
from cloud.analytics.alert_acks import MAX_COMMENT_CHARS, AckError, AlertAcks
from cloud.analytics.alerts import Alert
from cloud.api.deps import AppContext, get_context
from cloud.gateway_status import STALE_AFTER
from cloud.web.common import (
    FORM_ERRORS,
    PageDenied,
    PageUser,
    accounts_of,
    check_csrf,
    guarded,
    page,
    require_role,
)
from cloud.web.data import monthly_figures, monthly_lights, sensor_health
from cloud.web.i18n import language_of
from cloud.web.session import WebSession
from cloud.web.texts import ALERT_KINDS, CAUSES, SEVERITIES

router = APIRouter(include_in_schema=False)


def _context(request: Request) -> AppContext:
    return get_context(request)


def _acks(request: Request) -> AlertAcks:
    acks: AlertAcks = request.app.state.web_alert_acks
    return acks


def estate_page(request: Request, user: WebSession) -> Response:
    require_role(user, Role.TECHNICIAN)
    context = _context(request)
    now = datetime.now(UTC)
    ids = visible_buildings(user.principal, [b.id for b in context.registry.buildings])
    open_alerts = _scoped_alerts(request, user, open_only=True)
    alerts_per_flat: dict[str, int] = {}
    for a in open_alerts:
        alerts_per_flat[a.flat] = alerts_per_flat.get(a.flat, 0) + 1
    buildings = []
    for building_id in ids:
        building = context.registry.building(building_id)
        lights = monthly_lights(context.store, building_id, now)
        buildings.append(
            {
                "id": building.id,
                "name": building.name or building.id,
                "flats": [
                    {
                        "id": f.id,
                        "light": lights.get(f.id),
                        "consent": accounts_of(request).consented(f.id),
                        "alerts": alerts_per_flat.get(f.id, 0),
                    }
                    for f in building.flats
                ],
            }
        )
    return page(request, user, "technician/estate.html", {"buildings": buildings, "now": now})


def _scoped_alerts(request: Request, user: WebSession, *, open_only: bool) -> list[Alert]:
    buildings, flats = guarded(lambda: alert_scope(user.principal))
    found = _context(request).alerts.query()
    return [
        a
        for a in found
        if (buildings is None or a.building in buildings)
        and (flats is None or a.flat in flats)
        and (a.open or not open_only)
    ]


def _alerts_page(
    request: Request,
    user: WebSession,
    *,
    errors: dict[str, str] | None = None,
    comments: dict[str, str] | None = None,
    done: str | None = None,
    status_code: int = 200,
) -> Response:
    alerts = _scoped_alerts(request, user, open_only=False)[:200]
    acks = _acks(request).for_alerts(a.id for a in alerts)
    rows = [
        {"alert": a, "key": f"ack-{i}", "acks": acks.get(a.id, [])} for i, a in enumerate(alerts)
    ]
    return page(
        request,
        user,
        "technician/alerts.html",
        {
            "rows": rows,
            "alert_kinds": ALERT_KINDS,
            "severities": SEVERITIES,
            "errors": errors or {},
            "summary": {f"{key}-comment": text for key, text in (errors or {}).items()},
            "comments": comments or {},
            "done": done,
            "max_comment": MAX_COMMENT_CHARS,
        },
        status_code=status_code,
    )


@router.get("/alerts")
def alerts(request: Request, user: PageUser, done: str | None = None) -> Response:
    require_role(user, Role.TECHNICIAN)
    return _alerts_page(request, user, done=done)


@router.post("/alerts/acknowledge")
def acknowledge(
    request: Request,
    user: PageUser,
    alert_id: Annotated[str, Form(max_length=200)] = "",
    field: Annotated[str, Form(max_length=20)] = "",
    comment: Annotated[str, Form(max_length=4 * MAX_COMMENT_CHARS)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    require_role(user, Role.TECHNICIAN)
    check_csrf(request, user, csrf_token)
    alert = next(
        (a for a in _scoped_alerts(request, user, open_only=False) if a.id == alert_id), None
    )
    if alert is None:
        raise PageDenied(
            404,
            "Alarmen findes ikke i dine bygninger / the alert is not in your buildings",
        )
    try:
        _acks(request).acknowledge(alert.id, by=user.principal.username, comment=comment)
    except AckError as exc:
        lang = language_of(request)
        da, _, en = str(exc).partition(" / ")
        key = field if field.startswith("ack-") else "ack-0"
        return _alerts_page(
            request,
            user,
            errors={key: da if lang.value == "da" else (en or da)},
            comments={key: comment},
            status_code=FORM_ERRORS,
        )
    address = client_address(request)
    accounts_of(request).audit(
        user.principal,
        AuditAction.ALERT_ACKNOWLEDGED,
        flat_id=alert.flat,
        building_id=alert.building,
        address=address,
        detail={"alert": alert.id},
    )
    return RedirectResponse("/alerts?done=1", status_code=303)


@router.get("/health")
def health(request: Request, user: PageUser) -> Response:
    """Per building: each gateway's latest status (online, last seen, outbox, silent sensors,
    Bluetooth; stale when old or offline) from the API's own function, and every sensor's
    last reading and battery."""
    from cloud.api.routes.gateways import gateway_health

    require_role(user, Role.TECHNICIAN)
    context = _context(request)
    now = datetime.now(UTC)
    ids = visible_buildings(user.principal, [b.id for b in context.registry.buildings])
    buildings = []
    for building_id in ids:
        sensors = sensor_health(context.store, building_id, now)
        statuses = gateway_health(
            principal=user.principal,
            building=context.registry.building(building_id),
            store=context.store,
            registry=context.registry,
        )
        flats_of = {g.id: g.flats for g in context.registry.gateways}
        buildings.append(
            {
                "id": building_id,
                "sensors": sensors,
                "silent": sum(1 for s in sensors if s.silent),
                "gateways": [
                    {
                        "status": g,
                        "last_reading": max(
                            (s.last_seen for s in sensors if s.flat in flats_of[g.gateway]),
                            default=None,
                        ),
                    }
                    for g in statuses
                ],
            }
        )
    return page(
        request,
        user,
        "technician/health.html",
        {"buildings": buildings, "now": now, "stale_after_min": int(STALE_AFTER.seconds / 60)},
    )


def _api_monthly(request: Request, user: WebSession, flat_id: str) -> Any:
    """This month's key figures from the API's own function (``GET /api/flats/{id}/monthly``:
    means, comfort shares and colour, mould risk, sensor health), called with this person,
    never over HTTP; the same scope check runs inside it."""
    from cloud.api.deps import find_flat
    from cloud.api.routes.flats import monthly

    context = _context(request)
    ref = find_flat(context.registry, flat_id)
    if ref is None:
        return None
    return monthly(
        principal=user.principal,
        request=request,
        ref=ref,
        accounts=accounts_of(request),
        store=context.store,
        alerts=context.alerts,
        month=None,
    )


def _latest_decisions(events: list[Any]) -> list[Any]:
    """Each window's latest decision (events come newest first), ordered by window."""
    latest: dict[str, Any] = {}
    for event in events:
        if event.kind == "decision" and event.window not in latest:
            latest[event.window] = event
    return [latest[w] for w in sorted(latest)]


def _windows_section(request: Request, user: WebSession, flat_id: str) -> dict[str, Any]:
    """Windows, set points and the week's diagnosis from the API's own functions
    (cloud/api/routes/windows.py), called with this person, never over HTTP: the same scope
    checks run (the diagnosis's evidence only with consent, that read audited)."""
    from cloud.accounts.scope import BuildingView, check_building
    from cloud.api.deps import find_flat
    from cloud.api.routes.windows import (
        building_setpoints,
        flat_diagnosis,
        flat_window_events,
        setpoint_book,
    )

    context = _context(request)
    ref = find_flat(context.registry, flat_id)
    if ref is None:
        return {"windows": [], "setpoints": None, "diagnosis": None}
    principal = user.principal
    events = flat_window_events(context.store, ref, days=7, limit=5000)
    book = setpoint_book(request)
    setpoints = None
    if book is not None:
        guarded(lambda: check_building(principal, ref.building_id, BuildingView.CLIMATE))
        setpoints = building_setpoints(book, context.registry, ref.building_id).scopes
    found = guarded(
        lambda: flat_diagnosis(principal, request, ref, accounts_of(request), context.store)
    )
    return {
        "windows": _latest_decisions(events),
        "setpoints": setpoints,
        "diagnosis": found,
        "causes": CAUSES,
    }


def flat_page(request: Request, user: WebSession, flat_id: str, range: str = "week") -> Response:
    require_role(user, Role.TECHNICIAN)
    context = _context(request)
    building = accounts_of(request).building_of(flat_id) or ""
    consented = accounts_of(request).consented(flat_id) if building else False
    principal = user.principal
    guarded(lambda: check_flat(principal, building, flat_id, FlatView.SUMMARY, consented=consented))
    now = datetime.now(UTC)
    months = monthly_figures(context.store, building, flat_id, now)
    key_figures = _api_monthly(request, user, flat_id)
    open_alerts = [a for a in context.alerts.query(building=building, flat=flat_id) if a.open]
    data = {
        "flat": flat_id,
        "building": building,
        "consented": consented,
        "months": months,
        "key": key_figures,
        "alerts": open_alerts,
        "alert_kinds": ALERT_KINDS,
        "severities": SEVERITIES,
        **_windows_section(request, user, flat_id),
    }
    if not consented:
        return page(request, user, "technician/flat.html", {**data, "charts": None})
    guarded(lambda: check_flat(principal, building, flat_id, FlatView.DETAIL, consented=True))
    if needs_detail_audit(principal, flat_id):
        accounts_of(request).audit(
            principal,
            AuditAction.DETAIL_READ,
            flat_id=flat_id,
            building_id=building,
            address=client_address(request),
            detail={"page": "/flats/" + flat_id},
        )
    from cloud.web.pages.resident import chart_data

    return page(
        request,
        user,
        "technician/flat.html",
        {**data, **chart_data(request, building, flat_id, range)},
    )
