"""``GET /api/buildings/{building}/gateways`` (technicians of the building): each gateway's
latest status — online, last seen, outbox pending and dropped, silent sensors, Bluetooth — and
whether it is stale (cloud/gateway_status.py; ingest stores the gateways' retained status)."""

from __future__ import annotations

from fastapi import APIRouter

from cloud.accounts import BuildingView, scope
from cloud.accounts.http import CurrentPrincipal
from cloud.api.deps import BuildingDep, RegistryDep, StoreDep
from cloud.api.schemas import GatewayHealthOut
from cloud.gateway_status import STALE_AFTER, GatewayHealth, latest_statuses

router = APIRouter(prefix="/buildings/{building}/gateways", tags=["buildings"])


def health_out(health: GatewayHealth) -> GatewayHealthOut:
    return GatewayHealthOut(
        gateway=health.gateway,
        flats=health.flats,
        online=health.online,
        last_seen=health.last_seen,
        stale=health.stale,
        stale_after_s=int(STALE_AFTER.total_seconds()),
        outbox_pending=health.outbox_pending,
        outbox_dropped=health.outbox_dropped,
        window_states_dropped=health.window_states_dropped,
        sensors=health.sensors,
        sensors_silent=health.sensors_silent,
        silent_sensors=list(health.silent_sensors),
        ble_state=health.ble_state,
        ble_reason=health.ble_reason,
    )


@router.get("", summary="Gateways' tilstand / gateway health")
def gateway_health(
    principal: CurrentPrincipal, building: BuildingDep, store: StoreDep, registry: RegistryDep
) -> list[GatewayHealthOut]:
    """The building's gateways with their latest status (technicians of the building only)."""
    scope.check_building(principal, building.id, BuildingView.HEALTH)
    return [health_out(h) for h in latest_statuses(store, registry, building.id)]
