"""Sensor health: a per-sensor silence watchdog and plausibility flags. Pure logic, no I/O.

The watchdog calls a sensor silent after ``silent_after`` expected intervals without a report
(`edge.config.WatchdogConfig`) and says so once, and once more when it is back. Its advice says
what to check: the battery (with the last known level, volts and/or percent), the cable of a
serial sensor, the device's setting when its adverts carry no readings (an Aranet4 with Smart
Home integrations off), or the gateway's Bluetooth adapter when that is what stopped. Plausibility
checks *flag* readings (``out_of_range:co2_ppm``, ``stuck:temperature_c``, ``jump:humidity_pct``
go into `edge.wire.Reading.flags`); they never drop them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Final

from edge.config import SensorConfig, WatchdogConfig
from edge.wire import Quantity, SensorHealth


def _require_aware(time: datetime, what: str) -> None:
    if time.tzinfo is None or time.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware UTC datetime, got naive {time}")


def format_duration(duration: timedelta, danish: bool) -> str:
    """``45 s``, ``31 min``, ``5 t 3 min`` / ``5 h 3 min``, ``3 døgn`` / ``3 days``."""
    seconds = max(0, int(duration.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 120:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} {'t' if danish else 'h'} {rest} min"
    return f"{hours // 24} {'døgn' if danish else 'days'}"


def format_volts(battery_mv: float, danish: bool) -> str:
    """Millivolts as volts with two decimals; Danish uses a decimal comma (2,41 V)."""
    text = f"{battery_mv / 1000:.2f}"
    return f"{text.replace('.', ',') if danish else text} V"


def format_battery(battery_mv: float | None, battery_pct: float | None, danish: bool) -> str:
    """``2,41 V``, ``12 %``, ``2,41 V, 12 %`` — what the sensor last said; "" when nothing."""
    parts = []
    if battery_mv is not None:
        parts.append(format_volts(battery_mv, danish))
    if battery_pct is not None:
        parts.append(f"{battery_pct:.0f} %")
    return ", ".join(parts)


SMART_HOME_OFF: Final = "smart_home_off"
PROBLEM_REPEAT_AFTER: Final = timedelta(minutes=30)
"""A sensor's problem is announced at most once per this long: a device (or someone spoofing
its address) flipping between good and bad adverts cannot flood the alerts."""


def problem_messages(sensor: SensorConfig, reason: str, detail: str) -> tuple[str, str]:
    """What to do about a sensor whose adverts arrive but carry no readings."""
    if reason == SMART_HOME_OFF:
        return (
            f"Aranet4 {sensor.device} i lejlighed {sensor.flat} sender ingen målinger: "
            "'Smart Home integrations' er slået fra — slå det til i Aranet Home-appen "
            "(Indstillinger → Smart Home integrations); batteriet er ikke problemet",
            f"Aranet4 {sensor.device} in flat {sensor.flat} sends no readings: 'Smart Home "
            "integrations' is off — turn it on in the Aranet Home app (Settings → Smart Home "
            "integrations); the battery is not the problem",
        )
    return (
        f"sensor {sensor.device} i lejlighed {sensor.flat} sender data, der ikke kan bruges "
        f"({reason}): {detail}",
        f"sensor {sensor.device} in flat {sensor.flat} sends unusable data ({reason}): {detail}",
    )


@dataclass(frozen=True, slots=True)
class ProblemEvent:
    """A configured sensor's adverts carry no readings (``reason``), or no longer do."""

    device: str
    sensor: str
    building: str
    flat: str
    room: str
    reason: str | None
    """None: the problem is gone (readings arrive again)."""
    time: datetime
    message_da: str
    message_en: str


@dataclass(frozen=True, slots=True)
class SilenceEvent:
    """A sensor went silent (``silent``) or came back (not ``silent``)."""

    device: str
    sensor: str
    building: str
    flat: str
    room: str
    silent: bool
    time: datetime
    last_seen: datetime | None
    """None: never heard since the watchdog started."""
    silent_for: timedelta
    battery_mv: float | None
    message_da: str
    message_en: str
    battery_pct: float | None = None
    cause: str = "battery"
    """What the advice points at: ``battery``, ``cable``, ``problem`` (see the sensor's
    problem), ``bluetooth_adapter`` (the gateway's radio stopped, not the sensor)."""


@dataclass(frozen=True, slots=True)
class RadioTrouble:
    """The gateway's Bluetooth adapter delivers nothing (unavailable or silent)."""

    adapter: str
    detail: str


def _messages(
    watch: _Watch, silent: bool, silent_for: timedelta, radio: RadioTrouble | None
) -> tuple[str, str, str]:
    sensor = watch.sensor
    da_for, en_for = format_duration(silent_for, True), format_duration(silent_for, False)
    who_da = f"sensor {sensor.device} i lejlighed {sensor.flat}"
    who_en = f"sensor {sensor.device} in flat {sensor.flat}"
    if not silent:
        return (
            f"{who_da} sender igen efter {da_for} uden data",
            f"{who_en} is reporting again after {en_for} without data",
            "back",
        )
    battery_da = format_battery(watch.battery_mv, watch.battery_pct, True)
    battery_en = format_battery(watch.battery_mv, watch.battery_pct, False)
    if sensor.port:
        cause = "cable"
        hint_da, hint_en = "tjek kabel og strømforsyning", "check its cable and power supply"
    elif radio is not None:
        cause = "bluetooth_adapter"
        hint_da = (
            f"gatewayens Bluetooth-adapter {radio.adapter} leverer ingen data ({radio.detail}) "
            "— tjek adapteren, ikke sensorens batteri"
        )
        hint_en = (
            f"the gateway's Bluetooth adapter {radio.adapter} delivers nothing ({radio.detail}) "
            "— check the adapter, not the sensor's battery"
        )
    elif watch.problem is not None:
        cause = "problem"
        hint_da, hint_en = problem_messages(sensor, *watch.problem)
    elif battery_da:
        cause = "battery"
        hint_da = f"tjek batteriet (sidst {battery_da})"
        hint_en = f"check its battery (last {battery_en})"
    else:
        cause, hint_da, hint_en = "battery", "tjek batteriet", "check its battery"
    return (
        f"{who_da} har været tavs i {da_for} — {hint_da}",
        f"{who_en} silent for {en_for} — {hint_en}",
        cause,
    )


@dataclass(slots=True)
class _Watch:
    sensor: SensorConfig
    last_seen: datetime | None = None
    battery_mv: float | None = None
    battery_pct: float | None = None
    silent: bool = False
    silent_since: datetime | None = None
    problem: tuple[str, str] | None = None
    """(reason, detail) while the sensor's adverts carry no readings."""
    announced: bool = False
    """The last problem event said was "problem" (so its end is news)."""
    announced_at: datetime | None = None


class Watchdog:
    """Per-sensor silence watchdog over the configured sensors (unknown devices are ignored)."""

    def __init__(
        self, sensors: Iterable[SensorConfig], config: WatchdogConfig, started: datetime
    ) -> None:
        _require_aware(started, "started")
        self._config = config
        self._started = started
        self._watches = {s.device: _Watch(s) for s in sensors}
        self.radio_trouble: RadioTrouble | None = None
        """Set while the gateway's Bluetooth adapter delivers nothing: BLE sensors' silence
        alerts then point at the adapter, not at each sensor's battery."""

    def seen(
        self,
        device: str,
        time: datetime,
        battery_mv: float | None = None,
        battery_pct: float | None = None,
    ) -> ProblemEvent | None:
        """Record a report from `device` (keeps the newest time and the last known battery).
        Returns an event when this ends a problem (readings arrive again)."""
        _require_aware(time, "time")
        watch = self._watches.get(device)
        if watch is None:
            return None
        if watch.last_seen is None or time > watch.last_seen:
            watch.last_seen = time
        if battery_mv is not None:
            watch.battery_mv = battery_mv
        if battery_pct is not None:
            watch.battery_pct = battery_pct
        if watch.problem is None:
            return None
        watch.problem = None
        if not watch.announced:
            return None
        watch.announced = False
        sensor = watch.sensor
        da = f"sensor {device} i lejlighed {sensor.flat} sender målinger igen"
        en = f"sensor {device} in flat {sensor.flat} is sending readings again"
        return ProblemEvent(
            device, sensor.id, sensor.building, sensor.flat, sensor.room, None, time, da, en
        )

    def problem(self, device: str, time: datetime, reason: str, detail: str) -> ProblemEvent | None:
        """Record that `device`'s adverts carry no readings; an event when the problem is new
        or changed (each is said once, not per advert)."""
        _require_aware(time, "time")
        watch = self._watches.get(device)
        if watch is None or (watch.problem is not None and watch.problem[0] == reason):
            return None
        watch.problem = (reason, detail)
        recently = watch.announced_at is not None and time - watch.announced_at < (
            PROBLEM_REPEAT_AFTER
        )
        if recently and not watch.announced:  # flapping: said not long ago
            return None
        watch.announced, watch.announced_at = True, time
        sensor = watch.sensor
        da, en = problem_messages(sensor, reason, detail)
        return ProblemEvent(
            device, sensor.id, sensor.building, sensor.flat, sensor.room, reason, time, da, en
        )

    def _limit(self, watch: _Watch) -> timedelta:
        seconds = watch.sensor.expected_interval_s * self._config.silent_after
        return timedelta(seconds=seconds)

    def check(self, now: datetime) -> list[SilenceEvent]:
        """Events since the last check: each sensor once when it falls silent, once when back."""
        _require_aware(now, "now")
        events: list[SilenceEvent] = []
        for device, watch in self._watches.items():
            reference = watch.last_seen or self._started
            quiet = now - reference
            silent_now = quiet > self._limit(watch)
            if silent_now == watch.silent:
                continue
            if silent_now:
                watch.silent, watch.silent_since = True, reference
                silent_for = quiet
            else:
                assert watch.silent_since is not None and watch.last_seen is not None
                silent_for = watch.last_seen - watch.silent_since
                watch.silent, watch.silent_since = False, None
            radio = None if watch.sensor.port else self.radio_trouble
            da, en, cause = _messages(watch, silent_now, silent_for, radio)
            events.append(
                SilenceEvent(
                    device=device,
                    sensor=watch.sensor.id,
                    building=watch.sensor.building,
                    flat=watch.sensor.flat,
                    room=watch.sensor.room,
                    silent=silent_now,
                    time=now,
                    last_seen=watch.last_seen,
                    silent_for=silent_for,
                    battery_mv=watch.battery_mv,
                    message_da=da,
                    message_en=en,
                    battery_pct=watch.battery_pct,
                    cause=cause,
                )
            )
        return events

    def health(self) -> list[SensorHealth]:
        """Per-sensor health for the gateway status (as of the last `check`)."""
        return [
            SensorHealth(
                sensor=w.sensor.id,
                last_seen_ms=None if w.last_seen is None else int(w.last_seen.timestamp() * 1000),
                silent=w.silent,
                battery_mv=w.battery_mv,
                battery_pct=w.battery_pct,
                problem=None if w.problem is None else w.problem[0],
            )
            for w in self._watches.values()
        ]


DEFAULT_RANGES: Final[Mapping[str, tuple[float, float]]] = MappingProxyType(
    {
        # −40…85 °C: the operating range of the sensors' electronics (e.g. Nordic nRF52832
        # product specification; Sensirion SHT4x/SCD30 datasheets specify at least this span).
        "temperature_c": (-40.0, 85.0),
        "humidity_pct": (0.0, 100.0),
        # 0…10 000 ppm: the widest measuring range of the supported CO2 sensors (Sensirion
        # SCD30 datasheet "400–10 000 ppm"; Senseair S8 and MH-Z19B 0–10 000 ppm variants).
        "co2_ppm": (0.0, 10_000.0),
        # 300…1100 hPa: Bosch BME280 datasheet operating range (RuuviTag's pressure sensor).
        "pressure_hpa": (300.0, 1100.0),
        "battery_mv": (0.0, 5000.0),
        "battery_pct": (0.0, 100.0),
    }
)
DEFAULT_STUCK_AFTER: Final[Mapping[str, int]] = MappingProxyType(
    {"temperature_c": 30, "humidity_pct": 30, "co2_ppm": 30, "pressure_hpa": 30}
)
"""Identical readings in a row before a quantity that normally jitters counts as stuck."""
DEFAULT_MAX_CHANGE_PER_MIN: Final[Mapping[str, float]] = MappingProxyType(
    {"temperature_c": 5.0, "humidity_pct": 30.0, "co2_ppm": 2000.0}
)
"""Largest believable indoor change per minute; a shower raises RH fast, heaters do not move
room air by 5 °C in a minute, and exhaled CO2 does not add 2000 ppm a minute in a dwelling."""


@dataclass(frozen=True, slots=True)
class PlausibilityConfig:
    ranges: Mapping[str, tuple[float, float]] = field(default_factory=lambda: DEFAULT_RANGES)
    stuck_after: Mapping[str, int] = field(default_factory=lambda: DEFAULT_STUCK_AFTER)
    max_change_per_min: Mapping[str, float] = field(
        default_factory=lambda: DEFAULT_MAX_CHANGE_PER_MIN
    )


@dataclass(slots=True)
class _Track:
    last_value: float | None = None
    last_time: datetime | None = None
    repeats: int = 0
    baseline: float | None = None
    baseline_time: datetime | None = None


@dataclass(slots=True)
class PlausibilityChecker:
    """Flags for each sample, keeping a little state per device and quantity."""

    config: PlausibilityConfig = field(default_factory=PlausibilityConfig)
    _tracks: dict[tuple[str, str], _Track] = field(default_factory=dict)

    def check(
        self, device: str, time: datetime, values: Mapping[Quantity, float] | Mapping[str, float]
    ) -> tuple[str, ...]:
        """``out_of_range:q``, ``stuck:q`` and ``jump:q`` flags, in the order of `values`.

        A sample older than the previous one (history backfill) is only range-checked.
        """
        _require_aware(time, "time")
        flags: list[str] = []
        for name, value in values.items():
            low, high = self.config.ranges.get(name, (-math.inf, math.inf))
            in_range = math.isfinite(value) and low <= value <= high
            if not in_range:
                flags.append(f"out_of_range:{name}")
            track = self._tracks.setdefault((device, name), _Track())
            if track.last_time is not None and time <= track.last_time:
                continue
            flags.extend(self._track(name, track, time, value, in_range))
        return tuple(flags)

    def _track(
        self, name: str, track: _Track, time: datetime, value: float, in_range: bool
    ) -> list[str]:
        flags: list[str] = []
        track.repeats = track.repeats + 1 if value == track.last_value else 1
        track.last_value, track.last_time = value, time
        stuck_after = self.config.stuck_after.get(name)
        if stuck_after is not None and track.repeats >= stuck_after:
            flags.append(f"stuck:{name}")
        rate = self.config.max_change_per_min.get(name)
        jumped = False
        if rate is not None and track.baseline is not None and track.baseline_time is not None:
            minutes = max((time - track.baseline_time).total_seconds() / 60, 1.0)
            jumped = abs(value - track.baseline) > rate * minutes
            if jumped:
                flags.append(f"jump:{name}")
        if in_range and not jumped:
            track.baseline, track.baseline_time = value, time
        return flags
