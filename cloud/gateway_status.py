"""Gateway status messages (``…/status``, retained, last will = offline) → store points, and
each gateway's latest status back for the technicians (API and health page).

Measurement ``gateway_status``, tags ``building`` (from the registry) and ``gateway``:

* a status the gateway dated itself (online, or its clean offline at shutdown) is stored at the
  gateway's time with ``online``, ``outbox_pending``, ``outbox_dropped``,
  ``window_states_dropped``, ``sensors``, ``sensors_silent``, ``silent_sensors`` (ids, comma
  separated) and the Bluetooth adapter's ``ble_state``/``ble_reason``;
* the broker's last will (``online: false``, ``time_ms: 0``: the gateway vanished without a
  word) is stored at the time ingest received it, with ``online = 0`` only — its zeros are not
  the gateway's outbox, so the figures shown stay those of the last status it sent itself.

A status is refused (a dead letter with the reason, never a traceback) when it is not valid
JSON of the wire's `GatewayStatus`, claims another gateway than its topic's (a gateway reports
for itself only; the broker ties the topic to the gateway's login), comes from a gateway the
registry does not know, carries a negative counter, or is dated before 2000 or further in the
future than the allowed clock skew.

Pure except `latest_statuses`, which reads the store.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from cloud.registry import Registry
from cloud.store.base import FieldValue, Point, TimeSeriesStore
from edge.wire import (
    EARLIEST_TIME_MS,
    GatewayStatus,
    WireError,
    decode_status,
    gateway_of_status_topic,
)

GATEWAY_STATUS: Final = "gateway_status"
STALE_AFTER: Final = timedelta(minutes=5)
"""A gateway sends its status every minute (edge ``status_interval_s``, default 60 s): five
missed statuses and its last one is stale."""
LOOKBACKS: Final = (timedelta(hours=1), timedelta(days=2), timedelta(days=31))
"""How far back `latest_statuses` looks, step by step, for a gateway's latest status."""
MAX_TEXT: Final = 500
"""Longest string field stored from a status (ids of silent sensors, the adapter's reason)."""
_COUNTERS: Final = ("outbox_pending", "outbox_dropped", "window_states_dropped")


def points_from_status(status: GatewayStatus, building: str, received_ns: int) -> list[Point]:
    """The status as one point (see the module's docstring for what is stored when)."""
    tags = {"building": building, "gateway": status.gateway}
    if status.time_ms < EARLIEST_TIME_MS:  # the last will: undated, no figures of its own
        return [Point(GATEWAY_STATUS, tags, {"online": 0}, received_ns)]
    silent = [s.sensor for s in status.sensors if s.silent]
    fields: dict[str, FieldValue] = {
        "online": int(status.online),
        "outbox_pending": status.outbox_pending,
        "outbox_dropped": status.outbox_dropped,
        "window_states_dropped": status.window_states_dropped,
        "sensors": len(status.sensors),
        "sensors_silent": len(silent),
        "silent_sensors": ",".join(silent)[:MAX_TEXT],
    }
    if status.ble is not None:
        fields["ble_state"] = status.ble.state
        fields["ble_reason"] = (status.ble.reason or "")[:MAX_TEXT]
    return [Point(GATEWAY_STATUS, tags, fields, status.time_ms * 1_000_000)]


def check_status(
    topic: str, payload: bytes, registry: Registry, now_s: float, max_future_s: float
) -> list[Point]:
    """Validate one status message against its topic, the registry and the clock; raise
    `WireError` with the dead-letter reason."""
    gateway = gateway_of_status_topic(topic)
    if gateway is None:
        raise WireError(f"topic {topic!r} is not a gateway status topic")
    status = decode_status(payload)
    if status.gateway != gateway:
        raise WireError(
            f"status claims gateway {status.gateway!r} but was published on {topic!r}: a "
            "gateway reports only for itself"
        )
    known = registry.gateway(gateway)
    if known is None:
        raise WireError(
            f"gateway {gateway!r} is not in the registry; its status is not stored (register it: "
            "indeklima gateway provision)"
        )
    negative = [name for name in _COUNTERS if getattr(status, name) < 0]
    if negative:
        raise WireError(f"status of {gateway!r}: {', '.join(negative)} must not be negative")
    if status.time_ms < EARLIEST_TIME_MS and status.online:
        raise WireError(
            f"status of {gateway!r} is dated {status.time_ms} ms, before 2000: the gateway's "
            "clock is not set (check its NTP)"
        )
    ahead_s = status.time_ms / 1000 - now_s
    if ahead_s > max_future_s:
        raise WireError(
            f"status of {gateway!r} is dated {ahead_s:.0f} s ahead of the cloud's clock, beyond "
            f"the allowed skew of {max_future_s:.0f} s (check the gateway's NTP)"
        )
    return points_from_status(status, known.building, int(now_s * 1e9))


@dataclass(frozen=True, slots=True)
class GatewayHealth:
    """What the cloud knows of a gateway: its latest status and whether it is stale."""

    gateway: str
    building: str
    flats: int
    online: bool | None
    """The latest status's word (False after the last will); None: no status in a month."""
    last_seen: datetime | None
    """When the gateway last sent a status of its own (its clock)."""
    outbox_pending: int | None
    outbox_dropped: int | None
    window_states_dropped: int | None
    sensors: int | None
    sensors_silent: int | None
    silent_sensors: tuple[str, ...]
    ble_state: str | None
    ble_reason: str | None
    stale: bool
    """Offline, no status at all, or the last one older than `STALE_AFTER`."""


def _number(value: object) -> int | None:
    if value is None or isinstance(value, str):
        return None
    number = float(value)  # type: ignore[arg-type]
    return None if math.isnan(number) else int(number)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _own(row: dict[str, object]) -> bool:
    """A status the gateway dated itself (it carries the outbox; the last will does not)."""
    return _number(row.get("outbox_pending")) is not None


def _health(
    gateway: str, building: str, flats: int, rows: list[dict[str, object]], now: datetime
) -> GatewayHealth:
    """From the gateway's status rows (oldest first): the newest decides online; the newest
    the gateway dated itself (it carries the outbox) gives the figures and `last_seen`."""
    newest = rows[-1] if rows else None
    own = next((r for r in reversed(rows) if _own(r)), None)
    online = None if newest is None else _number(newest.get("online")) == 1
    seen = None
    if own is not None:
        seen = own["time"].to_pydatetime()  # type: ignore[attr-defined]
    stale = not online or seen is None or now - seen > STALE_AFTER
    figures: dict[str, object] = own if own is not None else {}
    get = figures.get
    silent = _text(get("silent_sensors"))
    return GatewayHealth(
        gateway=gateway,
        building=building,
        flats=flats,
        online=online,
        last_seen=seen,
        outbox_pending=_number(get("outbox_pending")),
        outbox_dropped=_number(get("outbox_dropped")),
        window_states_dropped=_number(get("window_states_dropped")),
        sensors=_number(get("sensors")),
        sensors_silent=_number(get("sensors_silent")),
        silent_sensors=tuple(silent.split(",")) if silent else (),
        ble_state=_text(get("ble_state")),
        ble_reason=_text(get("ble_reason")),
        stale=stale,
    )


def latest_statuses(
    store: TimeSeriesStore,
    registry: Registry,
    building: str,
    now: datetime | None = None,
    max_future_s: float = 600.0,
) -> list[GatewayHealth]:
    """Each of the building's gateways (registry order) with its latest stored status. Looks
    back an hour first, then further (`LOOKBACKS`) only for gateways not heard from."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    gateways = [g for g in registry.gateways if g.building == building]
    rows: dict[str, list[dict[str, object]]] = {}
    end = now + timedelta(seconds=max_future_s)
    for back in LOOKBACKS:
        missing = [g.id for g in gateways if not any(map(_own, rows.get(g.id, [])))]
        if not missing:
            break
        where: dict[str, str] = {"building": building}
        if len(missing) == 1:
            where["gateway"] = missing[0]
        frame = store.query(GATEWAY_STATUS, now - back, end, where=where)
        if frame.empty:
            continue
        for gateway_id, group in frame.groupby("gateway", sort=False):
            if gateway_id in missing:
                rows[str(gateway_id)] = group.to_dict("records")
    return [_health(g.id, building, len(g.flats), rows.get(g.id, []), now) for g in gateways]
