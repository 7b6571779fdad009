"""Dependencies of the routes as `Annotated` aliases (``StoreDep``, ``RegistryDep``, …).

`create_app` puts the settings on ``app.state.settings`` and its lifespan puts the open stores on
``app.state.context``; the getters below hand them to the routes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from cloud.analytics.alert_store import AlertStore
from cloud.api.documents import RunDocuments
from cloud.registry import Building, Registry
from cloud.settlement.runs import RunStore
from cloud.settlement.tariff import Tariff
from cloud.store.base import TimeSeriesStore


@dataclass(frozen=True, slots=True)
class AppContext:
    store: TimeSeriesStore
    registry: Registry
    tariff: Tariff
    alerts: AlertStore
    runs: RunStore
    documents: RunDocuments


def get_context(request: Request) -> AppContext:
    context: AppContext = request.app.state.context
    return context


ContextDep = Annotated[AppContext, Depends(get_context)]


def get_store(context: ContextDep) -> TimeSeriesStore:
    return context.store


def get_registry(context: ContextDep) -> Registry:
    return context.registry


def get_alerts(context: ContextDep) -> AlertStore:
    return context.alerts


def get_runs(context: ContextDep) -> RunStore:
    return context.runs


def get_documents(context: ContextDep) -> RunDocuments:
    return context.documents


def get_tariff(context: ContextDep) -> Tariff:
    return context.tariff


StoreDep = Annotated[TimeSeriesStore, Depends(get_store)]
RegistryDep = Annotated[Registry, Depends(get_registry)]
AlertStoreDep = Annotated[AlertStore, Depends(get_alerts)]
RunStoreDep = Annotated[RunStore, Depends(get_runs)]
DocumentsDep = Annotated[RunDocuments, Depends(get_documents)]
TariffDep = Annotated[Tariff, Depends(get_tariff)]


def get_building(building: str, registry: RegistryDep) -> Building:
    """The building named in the path; 404 when the registry does not have it."""
    for b in registry.buildings:
        if b.id == building:
            return b
    known = ", ".join(b.id for b in registry.buildings) or "ingen / none"
    raise HTTPException(
        status.HTTP_404_NOT_FOUND,
        f"Bygningen {building!r} findes ikke i registret (kendte: {known}) / building "
        f"{building!r} is not in the registry (known: {known})",
    )


BuildingDep = Annotated[Building, Depends(get_building)]
