"""``/api/flats``: the flats I may see, a flat's climate chart series (``/climate``: the
resolution picked from the range, `cloud.analytics.climate_series`), its raw readings
(``/readings``, at most 7 days), its monthly figures (``/monthly``), the resident's heating
estimate (``/heat-share``) and the residents' consent (``/consent``). Who may see what:
`cloud.accounts.scope`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Final

from fastapi import APIRouter, HTTPException, Query, Request, Response, status

from cloud.accounts import FlatView, Role, scope
from cloud.accounts.http import AccountsDep, CurrentPrincipal, client_address
from cloud.analytics.alerts import AlertState
from cloud.api import figures
from cloud.api.access import check_flat
from cloud.api.deps import (
    AlertStoreDep,
    FlatDep,
    Moment,
    Month,
    RegistryDep,
    StoreDep,
    TariffDep,
    find_flat,
)
from cloud.api.routes.heat_shares import estimate
from cloud.api.schemas import (
    ConsentEventOut,
    ConsentIn,
    ConsentOut,
    FlatClimateDetailOut,
    FlatHeatShareOut,
    FlatListOut,
    MonthlyOut,
    OpenAlertOut,
    ReadingOut,
)
from cloud.api.series import DEFAULT_RANGE, ClimateSeriesOut, flat_climate_response
from cloud.store.base import CLIMATE

router = APIRouter(prefix="/flats", tags=["flats"])

MAX_DETAIL_WINDOW: Final = timedelta(days=7)
MOULD: Final = "mould"


def _num(value: object) -> float | None:
    number = float(value)  # type: ignore[arg-type]
    return None if number != number else number


@router.get("", summary="Mine lejligheder / the flats I may see")
def list_flats(
    principal: CurrentPrincipal, accounts: AccountsDep, registry: RegistryDep
) -> list[FlatListOut]:
    pairs = [(b.id, f.id) for b in registry.buildings for f in b.flats]
    out = []
    for _building, flat_id in scope.visible_flats(principal, pairs):
        ref = find_flat(registry, flat_id)
        assert ref is not None
        out.append(
            FlatListOut(
                id=flat_id,
                key=ref.flat.key,
                building=ref.building_id,
                area_m2=ref.flat.area_m2,
                floor=ref.flat.floor,
                staff_detail_consent=None
                if principal.role is Role.ADMIN
                else accounts.consented(flat_id),
            )
        )
    return out


@router.get(
    "/{flat_id}/climate",
    summary="Lejlighedens indeklima over tid / the flat's climate over time",
    response_model=ClimateSeriesOut,
)
def climate(
    principal: CurrentPrincipal,
    request: Request,
    ref: FlatDep,
    accounts: AccountsDep,
    store: StoreDep,
    start: Annotated[Moment | None, Query(description="default: end - 24 h")] = None,
    end: Annotated[Moment | None, Query(description="default: now (UTC)")] = None,
) -> Response:
    """The resident's chart series: per room the mean/min/max at a resolution picked from the
    range (`cloud.analytics.climate_series.pick_resolution`): raw up to 2 days, hourly rollups
    up to 62 days, daily rollups (local days) beyond — a year is 366 points per series, never a
    year of raw readings. Detailed data: the flat's residents (from their move-in on:
    `scope.readable_window`), and staff of the building while the residents consent (each staff
    read audited)."""
    check_flat(accounts, principal, ref, FlatView.DETAIL, request, what="climate series")
    until = end or datetime.now(UTC)
    since = start or until - DEFAULT_RANGE
    first, _ = scope.readable_window(principal, ref.flat_id, since, until)
    return flat_climate_response(
        store, ref.building, ref.flat_id, since, until, not_before=first if first > since else None
    )


@router.get("/{flat_id}/readings", summary="Rå målinger / raw readings")
def readings(
    principal: CurrentPrincipal,
    request: Request,
    ref: FlatDep,
    accounts: AccountsDep,
    store: StoreDep,
    start: Annotated[Moment | None, Query(description="default: end - 24 h")] = None,
    end: Annotated[Moment | None, Query(description="default: start + 24 h, or now")] = None,
) -> FlatClimateDetailOut:
    """Every reading of the flat's sensors in [start, end), at most 7 days (default the last
    24 h); a resident gets none from before they moved in. Staff need the residents' consent,
    and each read is written to the audit trail."""
    if end is None and start is not None:
        end = min(start + timedelta(days=1), datetime.now(UTC))
    until = (end or datetime.now(UTC)).astimezone(UTC)
    since = (start or until - timedelta(days=1)).astimezone(UTC)
    if not timedelta(0) < until - since <= MAX_DETAIL_WINDOW:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "Vinduet skal være højst 7 dage og start før end / the window must be at most "
            "7 days, with start before end",
        )
    check_flat(accounts, principal, ref, FlatView.DETAIL, request, what="readings")
    first, last = scope.readable_window(principal, ref.flat_id, since, until)
    frame = store.query(
        CLIMATE,
        first,
        last,
        where={"building": ref.building_id, "flat": ref.flat_id},
        fields=list(figures.QUANTITIES),
    )
    found = []
    for row in frame.itertuples(index=False):
        values = row._asdict()
        found.append(
            ReadingOut(
                time=values["time"].to_pydatetime(),
                room=str(values.get("room", "")),
                sensor=str(values.get("sensor", "")),
                **{q: _num(values[q]) if q in values else None for q in figures.QUANTITIES},
            )
        )
    return FlatClimateDetailOut(
        flat=ref.flat_id, building=ref.building_id, start=since, end=until, readings=found
    )


@router.get("/{flat_id}/monthly", summary="Månedstal og nøgletal / monthly figures")
def monthly(
    principal: CurrentPrincipal,
    request: Request,
    ref: FlatDep,
    accounts: AccountsDep,
    store: StoreDep,
    alerts: AlertStoreDep,
    month: Annotated[Month | None, Query(description="YYYY-MM (local); default this month")] = None,
) -> MonthlyOut:
    """Monthly means, comfort-class shares and the month's green/yellow/red, mould risk, the
    kind and severity of open alerts, and sensor health — the housing organisation's figures,
    shown to the building's staff without consent."""
    check_flat(accounts, principal, ref, FlatView.SUMMARY, request)
    now = datetime.now(UTC)
    chosen = month or figures.this_month(now)
    start, end = scope.readable_window(principal, ref.flat_id, *figures.month_window(chosen))
    where = {"building": ref.building_id, "flat": ref.flat_id}
    frame = store.query(CLIMATE, start, end, where=where, fields=list(figures.QUANTITIES))
    mould = store.query(MOULD, start, end, where=where, fields=["mould_index"])
    open_alerts = alerts.query(
        building=ref.building_id,
        flat=ref.flat_id,
        states=(AlertState.NEW, AlertState.ESCALATED),
    )
    return MonthlyOut(
        flat=ref.flat_id,
        building=ref.building_id,
        month=chosen,
        readings=len(frame),
        temperature_mean_c=figures.mean(frame, "temperature_c"),
        humidity_mean_pct=figures.mean(frame, "humidity_pct"),
        co2_mean_ppm=figures.mean(frame, "co2_ppm"),
        comfort=figures.comfort(frame),
        mould=figures.mould(mould),
        open_alerts=[OpenAlertOut(kind=a.kind, severity=a.severity) for a in open_alerts],
        sensors=figures.sensors(frame, min(now, end)),
    )


@router.get("/{flat_id}/heat-share", summary="Mit varmeskøn / my heating estimate")
def heat_share(
    principal: CurrentPrincipal,
    request: Request,
    ref: FlatDep,
    accounts: AccountsDep,
    store: StoreDep,
    registry: RegistryDep,
    tariff: TariffDep,
    month: Annotated[Month | None, Query(description="YYYY-MM; default this month")] = None,
) -> FlatHeatShareOut:
    """The resident's running estimate of their flat's share of the heating bill."""
    check_flat(accounts, principal, ref, FlatView.HEAT_SHARE, request)
    building = estimate(store, registry, tariff, ref.building, month)
    (mine,) = [f for f in building.flats if f.flat == ref.flat_id]
    return FlatHeatShareOut(
        flat=ref.flat_id,
        building=ref.building_id,
        month=building.month,
        as_of=building.as_of,
        share_pct=mine.share_pct,
        estimated_ore=mine.estimated_ore,
        estimated_dkk=mine.estimated_dkk,
        coverage_pct=mine.coverage_pct,
        note=building.note,
    )


def _consent_out(accounts: AccountsDep, flat_id: str, with_history: bool) -> ConsentOut:
    current = accounts.consent(flat_id)
    history = accounts.consent_history(flat_id) if with_history else []
    return ConsentOut(
        flat=flat_id,
        staff_detail=current.staff_detail,
        since=current.at,
        history=[
            ConsentEventOut(staff_detail=c.staff_detail, at=c.at, by=c.by)
            for c in history
            if c.at is not None
        ],
    )


@router.get("/{flat_id}/consent", summary="Samtykke / consent")
def get_consent(
    principal: CurrentPrincipal, request: Request, ref: FlatDep, accounts: AccountsDep
) -> ConsentOut:
    """Whether staff may see the flat's detailed readings; residents also see the history."""
    check_flat(accounts, principal, ref, FlatView.CONSENT_READ, request)
    return _consent_out(accounts, ref.flat_id, principal.lives_in(ref.flat_id))


@router.put("/{flat_id}/consent", summary="Giv eller træk samtykke / give or withdraw consent")
def put_consent(
    principal: CurrentPrincipal,
    request: Request,
    ref: FlatDep,
    body: ConsentIn,
    accounts: AccountsDep,
) -> ConsentOut:
    """Only the flat's residents; takes effect at once; the history is kept."""
    check_flat(accounts, principal, ref, FlatView.CONSENT_WRITE, request)
    accounts.set_consent(principal, ref.flat_id, body.staff_detail, address=client_address(request))
    return _consent_out(accounts, ref.flat_id, True)
