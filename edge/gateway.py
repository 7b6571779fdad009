"""The gateway: samples from sensor drivers → readings → outbox (durable) → uplink.

`Gateway.on_sample` is what every driver calls. Readings are group-committed: samples collect
in a small bounded list and `flush()` commits them to the outbox in one transaction (every
``commit_interval_s``, and at once when the list is full) — nothing else happens to a reading
before that commit. Devices not in the config are never stored; each is listed once for
commissioning.

Times: a sample's time is the device's measurement time where the device says it (Aranet4's
age, history backfill), snapped to the device's measurement grid (`edge.sensors.grid`) so a
measurement has one time whether it came live or from the history. A live Aranet4 reading more
than two intervals after the previous one (a gap: the device or the gateway was away) queues a
history backfill of the gap (`take_backfills`; run by `edge.runner`).
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from edge.config import GatewayConfig, SensorConfig, SensorKind
from edge.lifecycle import Service
from edge.outbox import Outbox
from edge.sensors.grid import MeasurementGrid
from edge.sensors.health import (
    DEFAULT_STUCK_AFTER,
    PlausibilityChecker,
    PlausibilityConfig,
    ProblemEvent,
    RadioTrouble,
    SilenceEvent,
    Watchdog,
)
from edge.sensors.model import MAX_UNKNOWN_DEVICES, Sample
from edge.uplink import Uplink
from edge.ventilation.settings import VentilationConfig
from edge.ventilation.wiring import Ventilation
from edge.wire import (
    BleHealth,
    GatewayStatus,
    Reading,
    alerts_topic,
)

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
MAX_UNCOMMITTED = 1_000
"""Bound of the group-commit list; reaching it commits at once (never drops)."""


COARSE_STUCK_AFTER: dict[SensorKind, dict[str, int]] = {
    # Aranet4 reports RH in whole percent and T in 0.05 °C: a steady room repeats them for
    # hours, so only a long run of identical values means a stuck sensor.
    SensorKind.ARANET4: {"humidity_pct": 360, "temperature_c": 120},
}


def plausibility_config(kind: SensorKind) -> PlausibilityConfig:
    """Plausibility limits for one kind of sensor (its resolution decides "stuck")."""
    return PlausibilityConfig(
        stuck_after={**DEFAULT_STUCK_AFTER, **COARSE_STUCK_AFTER.get(kind, {})}
    )


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class BackfillRequest:
    """Fetch ``sensor``'s history between two live readings (exclusive) ``interval_s`` apart."""

    sensor: SensorConfig
    last_before: datetime
    first_after: datetime
    interval_s: float


_BLE_TROUBLE = frozenset({"silent", "unavailable"})


class Gateway(Service):
    def __init__(
        self, config: GatewayConfig, *, clock: Clock = utc_now, commit_interval_s: float = 0.2
    ) -> None:
        self.config = config
        self.clock = clock
        self.commit_interval_s = commit_interval_s
        self.devices: dict[str, SensorConfig] = {s.device: s for s in config.sensors}
        vent = config.ventilation
        self.outbox = Outbox(
            config.outbox.path,
            config.gateway_id,
            max_readings=config.outbox.max_readings,
            max_states=(vent or VentilationConfig()).state_queue_max,
        )
        self.ventilation: Ventilation | None = None
        if config.ventilation is not None and config.ventilation.windows:
            self.ventilation = Ventilation(
                config.ventilation,
                config.gateway_id,
                self.outbox.add_state,  # durable; the uplink sends it, ingest's ack removes it
                clock=clock,
                state_dir=config.outbox.path.parent,
            )
        handlers = self.ventilation.handlers if self.ventilation is not None else None
        self.uplink = Uplink(config, self.outbox, self.status, handlers=handlers)
        self.unknown_devices: dict[str, str] = {}
        self.watchdog = Watchdog(config.sensors, config.watchdog, clock())
        self.plausibility = {
            kind: PlausibilityChecker(plausibility_config(kind)) for kind in SensorKind
        }
        self.samples_seen = 0
        self.readings_flagged = 0
        self.grid = MeasurementGrid()
        self._last_live: dict[str, datetime] = {}
        """Newest live reading time per device with a history (Aranet4): gaps → backfill."""
        for sensor_id, time in self.outbox.last_seen().items():
            known = next((s for s in config.sensors if s.id == sensor_id), None)
            if known is not None and known.kind is SensorKind.ARANET4:
                self.grid.seed(known.device, time)
                self._last_live[known.device] = time
        self._backfills: dict[str, BackfillRequest] = {}
        """Pending backfills, one per device (bounded by the configured sensors)."""
        self.backfill_wakeup: Callable[[], None] | None = None
        """Called (from any thread) when a backfill is queued; set by the runner."""
        self.ble: BleHealth | None = None
        self._uncommitted: list[Reading] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._committer: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        self.uplink.start()
        if self.ventilation is not None:
            self.ventilation.start()
        self._committer = threading.Thread(target=self._commit_loop, name="gateway-commit")
        self._committer.start()

    def close(self) -> None:
        """Commit what is in hand, stop the uplink, close the outbox. Safe to call twice."""
        if self._committer is not None:
            self._stop.set()
            self._committer.join(10)
            self._committer = None
        self.flush()
        if self.ventilation is not None:
            self.ventilation.close()
        self.uplink.close()
        self.outbox.close()

    def _commit_loop(self) -> None:
        while not self._stop.wait(self.commit_interval_s):
            try:
                self.flush()
                self.check_health()
            except Exception:
                log.exception("committing readings to the outbox failed; retrying")

    # -- samples -------------------------------------------------------------------------------
    def on_sample(self, sample: Sample) -> None:
        """Called by every driver (any thread)."""
        sensor = self.devices.get(sample.device.upper()) or self.devices.get(sample.device)
        if sensor is None:
            if (
                sample.device not in self.unknown_devices
                and len(self.unknown_devices) < MAX_UNKNOWN_DEVICES
            ):
                self.unknown_devices[sample.device] = str(sample.values.quantities())
                log.info(
                    "unknown device %s (not in the config; not stored): %s",
                    sample.device,
                    self.unknown_devices[sample.device],
                )
            return
        values = sample.values.quantities()
        not_finite = [k for k, v in values.items() if not math.isfinite(v)]
        for name in not_finite:  # JSON cannot carry them; flag instead of losing the batch
            del values[name]
        live = sample.time is None
        if sample.time is not None:
            when = sample.time
        elif sample.age_s is not None:
            when = self.clock() - timedelta(seconds=sample.age_s)
            if not sample.interval_s:  # whole seconds: the age is given in seconds
                when = when.replace(microsecond=0)
        else:
            when = self.clock()
        backfill: BackfillRequest | None = None
        with self._lock:
            if sample.interval_s:
                when = self.grid.snap(sensor.device, when, sample.interval_s)
                if live:
                    backfill = self._note_live(sensor, when, sample.interval_s)
            self.samples_seen += 1
            solved = self.watchdog.seen(
                sensor.device, when, sample.values.battery_mv, sample.values.battery_pct
            )
            checker = self.plausibility[sensor.kind]
            flags = checker.check(sensor.device, when, values) if values else ()
        if solved is not None:
            self._problem_alert(solved)
        if backfill is not None:
            log.info(
                "%s: no readings from %s to %s — fetching them from its history",
                sensor.id,
                backfill.last_before.isoformat(),
                backfill.first_after.isoformat(),
            )
            wakeup = self.backfill_wakeup
            if wakeup is not None:
                wakeup()
        if not values:
            return
        flags = (*flags, *(f"not_finite:{name}" for name in not_finite))
        if flags:
            self.readings_flagged += 1
        reading = Reading(
            time_ms=int(when.timestamp() * 1000),
            building=sensor.building,
            flat=sensor.flat,
            room=sensor.room,
            sensor=sensor.id,
            values=values,
            flags=flags,
        )
        with self._lock:
            self._uncommitted.append(reading)
            full = len(self._uncommitted) >= MAX_UNCOMMITTED
        if full:
            self.flush()
        if self.ventilation is not None:
            self.ventilation.service.on_reading(reading)

    def _note_live(
        self, sensor: SensorConfig, when: datetime, interval_s: float
    ) -> BackfillRequest | None:
        """Track a device's live readings (under the lock); a gap of two intervals or more
        queues a backfill (merged with one already queued for the device)."""
        previous = self._last_live.get(sensor.device)
        if previous is None or when > previous:
            self._last_live[sensor.device] = when
        if previous is None or when - previous < timedelta(seconds=2 * interval_s):
            return None
        queued = self._backfills.get(sensor.device)
        request = BackfillRequest(
            sensor,
            previous if queued is None else min(previous, queued.last_before),
            when if queued is None else max(when, queued.first_after),
            interval_s,
        )
        self._backfills[sensor.device] = request
        return request

    def take_backfills(self) -> list[BackfillRequest]:
        """The queued backfills (and forget them)."""
        with self._lock:
            requests, self._backfills = list(self._backfills.values()), {}
        return requests

    def on_problem(self, device: str, reason: str, detail: str) -> None:
        """A configured device's adverts carry no readings (`BleSource`'s ``on_problem``)."""
        sensor = self.devices.get(device.upper()) or self.devices.get(device)
        if sensor is None:
            return
        with self._lock:
            event = self.watchdog.problem(sensor.device, self.clock(), str(reason), detail)
        if event is not None:
            log.warning("%s", event.message_en)
            self._problem_alert(event)

    def set_ble(self, health: BleHealth) -> None:
        """The Bluetooth adapter's state (from the BLE supervisor): in the status; while it
        delivers nothing, BLE sensors' silence alerts point at it; going into trouble (silent,
        unavailable), from one kind to the other, and out of it are alerts."""
        with self._lock:
            previous, self.ble = self.ble, health
            self.watchdog.radio_trouble = (
                RadioTrouble(health.adapter, health.reason or health.state)
                if health.state in _BLE_TROUBLE
                else None
            )
        was = previous is not None and previous.state in _BLE_TROUBLE
        if not (was or health.state in _BLE_TROUBLE):
            return  # starting → scanning is no news
        if previous is not None and previous.state == health.state:
            return
        self._publish_alert(
            {
                "v": 1,
                "kind": "ble_adapter",
                "adapter": health.adapter,
                "state": health.state,
                "mode": health.mode,
                "reason": health.reason,
                "time_ms": int(self.clock().timestamp() * 1000),
            }
        )

    def flush(self) -> int:
        """Commit collected readings to the outbox; returns how many."""
        with self._lock:
            readings, self._uncommitted = self._uncommitted, []
            if readings:
                self.outbox.add(readings)
        return len(readings)

    # -- health -------------------------------------------------------------------------------
    def check_health(self) -> list[SilenceEvent]:
        """Run the silence watchdog; each change is logged and published on ``…/alerts``."""
        with self._lock:
            events = self.watchdog.check(self.clock())
        for event in events:
            log.warning("%s", event.message_en)
            self._publish_alert(
                {
                    "v": 1,
                    "kind": "sensor_silent" if event.silent else "sensor_back",
                    "sensor": event.sensor,
                    "building": event.building,
                    "flat": event.flat,
                    "room": event.room,
                    "time_ms": int(event.time.timestamp() * 1000),
                    "battery_mv": event.battery_mv,
                    "battery_pct": event.battery_pct,
                    "cause": event.cause,
                    "message_da": event.message_da,
                    "message_en": event.message_en,
                }
            )
        return events

    def _problem_alert(self, event: ProblemEvent) -> None:
        self._publish_alert(
            {
                "v": 1,
                "kind": "sensor_problem" if event.reason is not None else "sensor_problem_gone",
                "reason": event.reason,
                "sensor": event.sensor,
                "building": event.building,
                "flat": event.flat,
                "room": event.room,
                "time_ms": int(event.time.timestamp() * 1000),
                "message_da": event.message_da,
                "message_en": event.message_en,
            }
        )

    def _publish_alert(self, payload: dict[str, Any]) -> None:
        if self.uplink.conn.connected:
            self.uplink.conn.publish(
                alerts_topic(self.config.gateway_id), orjson.dumps(payload), qos=1
            )

    def status(self) -> GatewayStatus:
        with self._lock:
            sensors = self.watchdog.health()
            ble = self.ble
        return GatewayStatus(
            v=1,
            gateway=self.config.gateway_id,
            online=True,
            time_ms=int(self.clock().timestamp() * 1000),
            outbox_pending=self.outbox.pending,
            outbox_dropped=self.outbox.dropped,
            sensors=sensors,
            ble=ble,
            window_states_dropped=self.outbox.states_dropped
            + (self.ventilation.service.unrecorded if self.ventilation else 0),
        )
