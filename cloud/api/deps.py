"""Dependencies of the routes as `Annotated` aliases (``StoreDep``, ``FlatDep``, …) and the
validated types of path and query parameters.

`create_app` puts the settings on ``app.state.settings``; its lifespan puts the open stores on
``app.state.context`` and the accounts on ``app.state.accounts`` (`cloud.accounts.http`).
Parameters are checked before any handler runs: a date outside 2000–2100, a month like
``9999-12`` or an id beyond what the database holds is a 422 that says so, never a 500.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Final

from fastapi import Depends, HTTPException, Path, Request, status
from pydantic import AfterValidator, Field

from cloud.accounts import Accounts
from cloud.analytics.alert_store import AlertStore
from cloud.api.documents import RunDocuments
from cloud.registry import Building, Flat, Registry
from cloud.settlement.runs import RunStore
from cloud.settlement.tariff import Tariff
from cloud.store.base import TimeSeriesStore
from edge.wire import ID_PATTERN

FIRST_YEAR: Final = 2000
LAST_YEAR: Final = 2100
MAX_DB_ID: Final = 2**31 - 1
"""Largest id a 32-bit INTEGER column holds (PostgreSQL ``integer``)."""


def _moment(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError(
            "tidspunktet mangler tidszone: skriv fx 2026-01-31T00:00:00Z / the time has no "
            "time zone: write e.g. 2026-01-31T00:00:00Z"
        )
    if not FIRST_YEAR <= value.year < LAST_YEAR:
        raise ValueError(
            f"tidspunktet skal ligge i årene {FIRST_YEAR}-{LAST_YEAR - 1} / the time must be "
            f"within the years {FIRST_YEAR}-{LAST_YEAR - 1}"
        )
    return value


def _month(value: str) -> str:
    year, _, month = value.partition("-")
    if not (
        len(year) == 4
        and year.isdigit()
        and len(month) == 2
        and month.isdigit()
        and FIRST_YEAR <= int(year) < LAST_YEAR
        and 1 <= int(month) <= 12
    ):
        raise ValueError(
            f"måned skal skrives ÅÅÅÅ-MM mellem {FIRST_YEAR}-01 og {LAST_YEAR - 1}-12 / a month "
            f"is written YYYY-MM between {FIRST_YEAR}-01 and {LAST_YEAR - 1}-12"
        )
    return value


Moment = Annotated[datetime, AfterValidator(_moment)]
"""A timezone-aware time in 2000–2099."""
Month = Annotated[
    str,
    AfterValidator(_month),
    Field(
        min_length=7,
        max_length=7,
        json_schema_extra={"pattern": r"^20\d{2}-(0[1-9]|1[0-2])$"},
        examples=["2026-01"],
    ),
]
RunId = Annotated[int, Path(ge=1, le=MAX_DB_ID)]
FlatKey = Annotated[
    str,
    Path(
        pattern=ID_PATTERN,
        max_length=64,
        description="Lejlighedens nøgle: dens id, når det kan stå i en URL (0101), ellers "
        "`key` fra /api/flats (Oestergade-1-2-th-71957533) / the flat's key: its id when "
        "URL-safe, else `key` from /api/flats",
    ),
]
"""A flat in a URL: its key (`cloud.registry.flat_key`), resolved through the registry."""


@dataclass(frozen=True, slots=True)
class AppContext:
    store: TimeSeriesStore
    registry: Registry
    tariff: Tariff
    alerts: AlertStore
    runs: RunStore
    documents: RunDocuments
    accounts: Accounts


def get_context(request: Request) -> AppContext:
    context: AppContext = request.app.state.context
    return context


async def _context(request: Request) -> AppContext:
    # The dependencies that only look something up in memory are `async def`: FastAPI runs a
    # plain `def` dependency in its thread pool, a hop that costs more than the lookup (about
    # 0.15 ms of CPU each, bench/bench_climate.py).
    return get_context(request)


ContextDep = Annotated[AppContext, Depends(_context)]


async def get_store(context: ContextDep) -> TimeSeriesStore:
    return context.store


async def get_registry(context: ContextDep) -> Registry:
    return context.registry


async def get_alerts(context: ContextDep) -> AlertStore:
    return context.alerts


async def get_runs(context: ContextDep) -> RunStore:
    return context.runs


async def get_documents(context: ContextDep) -> RunDocuments:
    return context.documents


async def get_tariff(context: ContextDep) -> Tariff:
    return context.tariff


StoreDep = Annotated[TimeSeriesStore, Depends(get_store)]
RegistryDep = Annotated[Registry, Depends(get_registry)]
AlertStoreDep = Annotated[AlertStore, Depends(get_alerts)]
RunStoreDep = Annotated[RunStore, Depends(get_runs)]
DocumentsDep = Annotated[RunDocuments, Depends(get_documents)]
TariffDep = Annotated[Tariff, Depends(get_tariff)]


async def get_building(building: str, registry: RegistryDep) -> Building:
    """The building named in the path; 404 when the registry does not have it."""
    for b in registry.buildings:
        if b.id == building:
            return b
    raise HTTPException(
        status.HTTP_404_NOT_FOUND,
        f"Bygningen {building!r} findes ikke i registret / building {building!r} is not in "
        "the registry",
    )


BuildingDep = Annotated[Building, Depends(get_building)]


@dataclass(frozen=True, slots=True)
class FlatRef:
    building: Building
    flat: Flat

    @property
    def building_id(self) -> str:
        return self.building.id

    @property
    def flat_id(self) -> str:
        return self.flat.id


def find_flat(registry: Registry, flat_id: str) -> FlatRef | None:
    for building in registry.buildings:
        for flat in building.flats:
            if flat.id == flat_id:
                return FlatRef(building, flat)
    return None


def flat_of_key(registry: Registry, key: str) -> FlatRef | None:
    """The flat whose URL key (`cloud.registry.flat_key`) is `key` — how every route and page
    turns a URL into a flat; None when no flat has it."""
    found = registry.flat_by_key(key)
    return None if found is None else FlatRef(*found)


def _not_found(key: str) -> HTTPException:
    from cloud.accounts.scope import flat_not_found

    denied = flat_not_found(key)
    return HTTPException(denied.status, denied.reason)


async def get_flat(flat_id: FlatKey, registry: RegistryDep) -> FlatRef:
    """The flat named in the path by its key; 404 when unknown — the same answer a resident gets
    for a flat that is not theirs (`cloud.accounts.scope`), which the routes check next."""
    found = flat_of_key(registry, flat_id)
    if found is None:
        raise _not_found(flat_id)
    return found


def building_flat(building: Building, key: str) -> FlatRef:
    """The flat of `building` whose key is `key` (``/api/buildings/{b}/flats/{key}/…``); 404
    otherwise, as `get_flat`."""
    for flat in building.flats:
        if flat.key == key:
            return FlatRef(building, flat)
    raise _not_found(key)


FlatDep = Annotated[FlatRef, Depends(get_flat)]
