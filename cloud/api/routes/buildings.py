"""``/api/buildings`` (the staff's own buildings; every building for an admin): buildings and
flats, and a building's indoor-climate summary per flat (technician; only flats whose residents
consent — the others are named in ``withheld``, and every flat shown is audited).

Aconto payments are left out here: they are the tenants' money matters and show on the
settlement rows, which only finance sees.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Annotated, Final

import pandas as pd
from fastapi import APIRouter, HTTPException, Path, Query, Request, Response, status

from cloud.accounts import AuditAction, BuildingView, FlatView, scope
from cloud.accounts.http import AccountsDep, CurrentPrincipal, client_address
from cloud.api.access import check_flat
from cloud.api.deps import BuildingDep, Moment, RegistryDep, StoreDep, building_flat
from cloud.api.schemas import (
    BuildingOut,
    BuildingSummaryOut,
    ClimateSummaryOut,
    FlatClimateOut,
    FlatOut,
)
from cloud.api.series import ClimateSeriesOut, flat_climate_response
from cloud.store.base import CLIMATE

router = APIRouter(prefix="/buildings", tags=["buildings"])

MAX_SUMMARY_WINDOW: Final = timedelta(days=31)
QUANTITIES: Final = ("temperature_c", "humidity_pct", "co2_ppm")


@router.get("", summary="Bygninger / buildings")
def list_buildings(principal: CurrentPrincipal, registry: RegistryDep) -> list[BuildingSummaryOut]:
    scope.check_building_list(principal)
    visible = set(scope.visible_buildings(principal, [b.id for b in registry.buildings]))
    return [
        BuildingSummaryOut(
            id=b.id,
            name=b.name,
            flats=len(b.flats),
            area_m2=round(sum(f.area_m2 for f in b.flats), 2),
            heating_budget_dkk_per_month=b.heating_budget_dkk_per_month,
        )
        for b in registry.buildings
        if b.id in visible
    ]


@router.get("/{building}", summary="Bygning / building")
def get_building(
    principal: CurrentPrincipal, building: BuildingDep, registry: RegistryDep
) -> BuildingOut:
    scope.check_building(principal, building.id, BuildingView.STRUCTURE)
    return BuildingOut(
        id=building.id,
        name=building.name,
        area_m2=round(sum(f.area_m2 for f in building.flats), 2),
        heating_budget_dkk_per_month=building.heating_budget_dkk_per_month,
        flats=[
            FlatOut(
                id=f.id,
                key=f.key,
                area_m2=f.area_m2,
                floor=f.floor,
                position=f.position,
                position_factor=f.position_factor,
                frsi=f.frsi,
            )
            for f in building.flats
        ],
        gateways=[g.id for g in registry.gateways if g.building == building.id],
    )


def _num(value: object) -> float | None:
    number = float(value)  # type: ignore[arg-type]
    return None if math.isnan(number) else round(number, 2)


def _window(since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
    end = (until or datetime.now(UTC)).astimezone(UTC)
    start = (since or end - timedelta(days=1)).astimezone(UTC)
    if not timedelta(hours=1) <= end - start <= MAX_SUMMARY_WINDOW:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "Vinduet skal være fra 1 time til 31 dage (since < until) / the window must be "
            "1 hour to 31 days long (since < until)",
        )
    return start, end


@router.get("/{building}/climate", summary="Indeklima pr. lejlighed / climate per flat")
def climate_summary(
    principal: CurrentPrincipal,
    request: Request,
    building: BuildingDep,
    store: StoreDep,
    accounts: AccountsDep,
    since: Annotated[Moment | None, Query(description="default: until - 24 h")] = None,
    until: Annotated[Moment | None, Query(description="default: now (UTC)")] = None,
) -> ClimateSummaryOut:
    """Hourly means of the flat's rooms, then their mean, min and max over the window — for the
    flats whose residents consent to staff seeing details; the others are listed in
    ``withheld``. Each flat shown is a read of details and goes in the audit trail."""
    scope.check_building(principal, building.id, BuildingView.CLIMATE)
    start, end = _window(since, until)
    shown = sorted(f.id for f in building.flats if accounts.consented(f.id))
    withheld = sorted(f.id for f in building.flats if f.id not in shown)
    frame = store.downsample(
        CLIMATE,
        start,
        end,
        timedelta(hours=1),
        where={"building": building.id},
        fields=list(QUANTITIES),
        by=("building", "flat"),
    )
    for column in QUANTITIES:
        if column not in frame.columns:
            frame[column] = float("nan")
    flats = []
    for flat in shown:
        accounts.audit(
            principal,
            AuditAction.DETAIL_READ,
            flat_id=flat,
            building_id=building.id,
            address=client_address(request),
            detail={"what": "building climate", "since": start, "until": end},
        )
        rows = frame[frame["flat"] == flat] if not frame.empty else frame
        if rows.empty:
            flats.append(FlatClimateOut(flat=flat, hours_with_data=0))
            continue
        t, rh, co2 = (pd.to_numeric(rows[q], errors="coerce") for q in QUANTITIES)
        flats.append(
            FlatClimateOut(
                flat=flat,
                hours_with_data=len(rows),
                last_hour=pd.Timestamp(rows["time"].max()).to_pydatetime(),
                temperature_mean_c=_num(t.mean()),
                temperature_min_c=_num(t.min()),
                temperature_max_c=_num(t.max()),
                humidity_mean_pct=_num(rh.mean()),
                humidity_max_pct=_num(rh.max()),
                co2_mean_ppm=_num(co2.mean()),
                co2_max_ppm=_num(co2.max()),
            )
        )
    return ClimateSummaryOut(
        building=building.id,
        since=start,
        until=end,
        hours=int((end - start) / timedelta(hours=1)),
        note="Timemiddel af lejlighedens rum; min/maks er af timemidlerne / hourly means of "
        "the flat's rooms; min/max are of the hourly means",
        flats=flats,
        withheld=withheld,
    )


@router.get(
    "/{building}/flats/{flat}/climate",
    summary="Lejlighedens indeklima / flat climate",
    response_model=ClimateSeriesOut,
)
def flat_climate(
    principal: CurrentPrincipal,
    request: Request,
    building: BuildingDep,
    flat: Annotated[str, Path(max_length=64)],
    store: StoreDep,
    accounts: AccountsDep,
    start: Annotated[Moment | None, Query(description="default: end - 24 h")] = None,
    end: Annotated[Moment | None, Query(description="default: now (UTC)")] = None,
) -> Response:
    """Per room: mean/min/max at a resolution picked from the range (cloud/analytics/
    climate_series.py): raw up to 2 days, hourly rollups up to 62 days, daily beyond. Detailed
    readings: the flat's residents, and staff of the building while the residents consent
    (audited)."""
    ref = building_flat(building, flat)
    check_flat(accounts, principal, ref, FlatView.DETAIL, request, what="climate series")
    return flat_climate_response(store, building, ref.flat_id, start, end)
