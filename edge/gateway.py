"""The gateway: samples from sensor drivers → readings → outbox (durable) → uplink.

`Gateway.on_sample` is what every driver calls. Readings are group-committed: samples collect
in a small bounded list and `flush()` commits them to the outbox in one transaction (every
``commit_interval_s``, and at once when the list is full) — nothing else happens to a reading
before that commit. Devices not in the config are never stored; each is listed once for
commissioning.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import orjson
import paho.mqtt.client as mqtt

from edge.config import GatewayConfig, SensorConfig, SensorKind
from edge.lifecycle import Service
from edge.outbox import Outbox
from edge.sensors.health import (
    DEFAULT_STUCK_AFTER,
    PlausibilityChecker,
    PlausibilityConfig,
    SilenceEvent,
    Watchdog,
)
from edge.sensors.model import MAX_UNKNOWN_DEVICES, Sample
from edge.uplink import Uplink
from edge.ventilation.wiring import Ventilation
from edge.wire import (
    GatewayStatus,
    Reading,
    WindowState,
    alerts_topic,
    encode,
    window_state_topic,
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


class Gateway(Service):
    def __init__(
        self, config: GatewayConfig, *, clock: Clock = utc_now, commit_interval_s: float = 0.2
    ) -> None:
        self.config = config
        self.clock = clock
        self.commit_interval_s = commit_interval_s
        self.devices: dict[str, SensorConfig] = {s.device: s for s in config.sensors}
        self.outbox = Outbox(
            config.outbox.path, config.gateway_id, max_readings=config.outbox.max_readings
        )
        self.ventilation: Ventilation | None = None
        if config.ventilation is not None and config.ventilation.windows:
            self.ventilation = Ventilation(
                config.ventilation,
                config.gateway_id,
                self._publish_window_state,
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
            self.ventilation.service.flush()
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
        if sample.time is not None:
            when = sample.time
        elif sample.age_s:  # whole seconds: the age is given in seconds
            when = (self.clock() - timedelta(seconds=sample.age_s)).replace(microsecond=0)
        else:
            when = self.clock()
        with self._lock:
            self.samples_seen += 1
            self.watchdog.seen(sensor.device, when, sample.values.battery_mv)
            checker = self.plausibility[sensor.kind]
            flags = checker.check(sensor.device, when, values) if values else ()
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
            payload = {
                "v": 1,
                "kind": "sensor_silent" if event.silent else "sensor_back",
                "sensor": event.sensor,
                "building": event.building,
                "flat": event.flat,
                "room": event.room,
                "time_ms": int(event.time.timestamp() * 1000),
                "battery_mv": event.battery_mv,
                "message_da": event.message_da,
                "message_en": event.message_en,
            }
            if self.uplink.conn.connected:
                self.uplink.conn.publish(
                    alerts_topic(self.config.gateway_id), orjson.dumps(payload), qos=1
                )
        return events

    def _publish_window_state(self, window: str, message: WindowState) -> bool:
        """Hand a window state message to the broker; False (kept queued) while offline."""
        conn = self.uplink.conn
        if not conn.connected:
            return False
        topic = window_state_topic(self.config.gateway_id, window)
        return conn.publish(topic, encode(message), qos=1).rc == mqtt.MQTT_ERR_SUCCESS

    def status(self) -> GatewayStatus:
        with self._lock:
            sensors = self.watchdog.health()
        return GatewayStatus(
            v=1,
            gateway=self.config.gateway_id,
            online=True,
            time_ms=int(self.clock().timestamp() * 1000),
            outbox_pending=self.outbox.pending,
            outbox_dropped=self.outbox.dropped,
            sensors=sensors,
            window_states_dropped=self.ventilation.service.dropped if self.ventilation else 0,
        )
