"""``GET /api/buildings/{building}/heat-shares?month=YYYY-MM`` (finance of the building): the
running estimate of each flat's heating share for a month (default: the current, open month).

The data so far (whole days) is settled under the tariff and each flat's share is applied to the
building's monthly heating budget (``heating_budget_dkk_per_month`` in the registry), as the jobs
do for the ``heat_share`` series (`cloud.settlement.estimate`). For a past month the estimate
uses the whole month. It is an estimate: the settlement uses the final bill.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from cloud.accounts import BuildingView, scope
from cloud.accounts.http import CurrentPrincipal
from cloud.api.deps import BuildingDep, Month, RegistryDep, StoreDep, TariffDep
from cloud.api.schemas import FlatShareOut, HeatSharesOut
from cloud.registry import Building, Registry
from cloud.settlement.csv_io import InputError, parse_period
from cloud.settlement.engine import SettlementError
from cloud.settlement.estimate import running_estimate
from cloud.settlement.money import ore_to_dkk
from cloud.settlement.store_io import inputs_from_store
from cloud.settlement.tariff import Tariff
from cloud.store.base import TimeSeriesStore

router = APIRouter(prefix="/buildings", tags=["heat shares"])


@router.get("/{building}/heat-shares", summary="Løbende varmeandele / running heat shares")
def heat_shares(
    principal: CurrentPrincipal,
    building: BuildingDep,
    store: StoreDep,
    registry: RegistryDep,
    tariff: TariffDep,
    month: Annotated[Month | None, Query(description="YYYY-MM; default this month")] = None,
) -> HeatSharesOut:
    scope.check_building(principal, building.id, BuildingView.HEAT_SHARES)
    return estimate(store, registry, tariff, building, month)


def estimate(
    store: TimeSeriesStore,
    registry: Registry,
    tariff: Tariff,
    building: Building,
    month: str | None,
) -> HeatSharesOut:
    """The running estimate of every flat's share (HTTP errors for what cannot be done)."""
    budget = building.heating_budget_dkk_per_month
    if budget is None:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"Bygning {building.id} har intet varmebudget: sæt heating_budget_dkk_per_month "
            f"for bygningen i registret / building {building.id} has no heating budget: set "
            "heating_budget_dkk_per_month for the building in the registry",
        )
    now = datetime.now(UTC)
    try:
        start, end = parse_period(month or f"{now:%Y-%m}")
    except InputError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    as_of = min(now, end)
    expected = Decimal(str(budget)).quantize(Decimal("0.01"))
    try:
        inputs = inputs_from_store(
            store, registry, building.id, start, end, expected, tariff=tariff
        )
        estimates = running_estimate(inputs, as_of)
    except (SettlementError, ValueError) as exc:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"Intet skøn for {building.id} {start:%Y-%m}: {exc} / no estimate for "
            f"{building.id} {start:%Y-%m}",
        ) from exc
    return HeatSharesOut(
        building=building.id,
        month=f"{start:%Y-%m}",
        as_of=as_of,
        expected_cost_dkk=expected,
        total_dkk=ore_to_dkk(sum(e.estimated_ore for e in estimates)),
        note="Skøn: andel af målingerne indtil nu × månedens varmebudget; det endelige "
        "regnskab bruger den endelige varmeregning / estimate: share of the measurements so "
        "far × the month's heating budget; the settlement uses the final heating bill",
        flats=[
            FlatShareOut(
                flat=e.flat_id,
                share_pct=round(e.share_pct, 4),
                estimated_ore=e.estimated_ore,
                estimated_dkk=ore_to_dkk(e.estimated_ore),
                coverage_pct=e.coverage_pct,
            )
            for e in estimates
        ],
    )
