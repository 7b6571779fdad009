"""Window settings: the set points a technician may tune from the cloud, and the building's fixed
rules and hardware from the gateway's TOML file.

Defaults follow DOMAIN.md: CO2 category II ≈ 1200 ppm absolute (we open a little earlier, at
1000 ppm, BR18's "below 1000 ppm" guidance); RH 30–60 % (a humidity *peak* is a shower or cooking:
above 70 %, or a rise of 10 points within half an hour); airing 2–3 times a day for 5–10 minutes;
no airing below about 0 °C; a winter maximum open time of 30–60 min; wind: close above the limit
and wait 10 min below it; a manual operation blocks automatic control for ~30 min.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, TypeVar

import msgspec
from msgspec import Meta
from msgspec.structs import force_setattr

from edge.wire import FlatId, WireId, normalise_flat_id

_HHMM = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
HHMM = Annotated[str, Meta(pattern=_HHMM.pattern)]
Seconds = Annotated[float, Meta(ge=0, le=86_400)]


_S = TypeVar("_S", bound="_Strict")


class _Strict(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    @classmethod
    def parse(cls: type[_S], data: Any) -> _S:
        """Validate plain data (TOML/JSON); ValueError names the first bad setting."""
        try:
            return msgspec.convert(data, cls)
        except msgspec.ValidationError as exc:
            raise ValueError(str(exc)) from None


class Setpoints(_Strict, frozen=True):
    """What the cloud may tune per building, flat or room (retained ``…/config`` topic).
    Out-of-range values are refused with the reason (`parse_setpoints`)."""

    co2_open_ppm: Annotated[float, Meta(ge=600, le=2000)] = 1000.0
    co2_hysteresis_ppm: Annotated[float, Meta(ge=20, le=600)] = 200.0
    humidity_open_pct: Annotated[float, Meta(ge=50, le=95)] = 70.0
    humidity_rise_pct: Annotated[float, Meta(ge=3, le=40)] = 10.0
    """A rise of this many RH points above the lowest of the last half hour is a peak."""
    humidity_hysteresis_pct: Annotated[float, Meta(ge=2, le=30)] = 8.0
    open_pct: Annotated[float, Meta(gt=0, le=100)] = 100.0
    min_open_s: Annotated[float, Meta(ge=60, le=3600)] = 300.0
    max_open_s: Annotated[float, Meta(ge=300, le=14_400)] = 3600.0
    min_interval_s: Annotated[float, Meta(ge=60, le=14_400)] = 900.0
    """Between a close and the next automatic opening (no cycling)."""
    airing_times: Annotated[list[HHMM], Meta(max_length=4)] = msgspec.field(
        default_factory=lambda: ["07:30", "12:30", "18:30"]
    )
    """Local (Europe/Copenhagen) times of the scheduled short airings when occupied."""
    airing_s: Annotated[float, Meta(ge=120, le=1800)] = 420.0
    airing_window_s: Annotated[float, Meta(ge=600, le=7200)] = 3600.0
    """A scheduled airing may start up to this long after its time (min interval, weather)."""
    frost_below_c: Annotated[float, Meta(ge=-20, le=5)] = 0.0
    winter_below_c: Annotated[float, Meta(ge=0, le=15)] = 10.0
    winter_max_open_s: Annotated[float, Meta(ge=300, le=3600)] = 1800.0
    wind_limit_ms: Annotated[float, Meta(ge=3, le=25)] = 10.0
    wind_calm_s: Annotated[float, Meta(ge=60, le=3600)] = 600.0
    manual_suspend_s: Annotated[float, Meta(ge=60, le=14_400)] = 1800.0

    def __post_init__(self) -> None:
        if self.co2_hysteresis_ppm >= self.co2_open_ppm - 450:
            raise ValueError(
                "co2_hysteresis_ppm skal være mindre end co2_open_ppm − 450 (udeluft) / "
                "co2_hysteresis_ppm must keep the closing level above outdoor CO2 (≈ 420 ppm)"
            )
        if self.humidity_hysteresis_pct >= self.humidity_open_pct - 30:
            raise ValueError(
                "humidity_hysteresis_pct er for stor / humidity_hysteresis_pct would close below "
                "30 % RH; make it smaller"
            )
        if self.min_open_s >= self.max_open_s:
            raise ValueError(
                "min_open_s skal være mindre end max_open_s / min_open_s must be below max_open_s"
            )
        if self.airing_s > self.max_open_s or self.airing_s > self.winter_max_open_s:
            raise ValueError(
                "airing_s må ikke overstige max_open_s eller winter_max_open_s / "
                "airing_s must not exceed max_open_s nor winter_max_open_s"
            )
        if self.frost_below_c >= self.winter_below_c:
            raise ValueError(
                "frost_below_c skal være under winter_below_c / frost_below_c must be below "
                "winter_below_c"
            )


class BuildingRules(_Strict, frozen=True):
    """The housing organisation's rules (gateway TOML; not tunable from the cloud)."""

    night_start: HHMM = "23:00"
    night_end: HHMM = "06:00"
    night_closed: bool = False
    """Keep automatic windows closed at night (noise, burglary)."""
    closed_when_absent: bool = True
    """Keep automatic windows closed when nobody is home (burglary, storm damage)."""
    ground_floor_closed_at_night: bool = True
    """Ground-floor windows stay closed at night even where others may open."""
    max_input_age_s: Annotated[float, Meta(ge=10, le=3600)] = 120.0
    """Weather readings (rain, wind, outdoor T) older than this count as missing: window closes."""
    max_indoor_age_s: Annotated[float, Meta(ge=60, le=7200)] = 900.0
    """Indoor CO2/RH older than this are ignored (no automatic opening on old values)."""


class WindowConfig(_Strict, frozen=True):
    """One motorised ventilation window (never a smoke-ventilation window: DOMAIN.md)."""

    id: WireId
    building: WireId
    flat: FlatId
    room: WireId
    driver: Literal["modbus", "relay"]
    ground_floor: bool = False
    port: str | None = None
    modbus_address: Annotated[int, Meta(ge=1, le=247)] | None = None
    baudrate: int = 19_200
    open_pin: str | None = None
    close_pin: str | None = None
    manual_pin: str | None = None
    """Relay driver: the gpiozero pins of the open and close contacts and an optional local
    button input (a manual operation on site)."""
    travel_s: Annotated[float, Meta(gt=0, le=600)] = 60.0
    """Full-stroke run time of the controller (commanded vs reported after this → fault)."""
    sensors: list[WireId] = msgspec.field(default_factory=list)
    """Sensor ids whose CO2 and RH drive this window (default: every sensor of the room)."""

    def __post_init__(self) -> None:
        force_setattr(self, "flat", normalise_flat_id(self.flat))
        if self.driver == "modbus" and (not self.port or self.modbus_address is None):
            raise ValueError(f"window {self.id}: a modbus window needs `port` and `modbus_address`")
        if self.driver == "relay" and (not self.open_pin or not self.close_pin):
            raise ValueError(f"window {self.id}: a relay window needs `open_pin` and `close_pin`")


class WeatherConfig(_Strict, frozen=True):
    """The rain/wind/outdoor-temperature mast on the gateway (Modbus RTU, `actuators`)."""

    port: str
    modbus_address: Annotated[int, Meta(ge=1, le=247)] = 10
    baudrate: int = 19_200
    poll_interval_s: Annotated[float, Meta(gt=0, le=60)] = 5.0


class VentilationConfig(_Strict, frozen=True):
    """``[ventilation]`` in the gateway TOML."""

    windows: list[WindowConfig] = msgspec.field(default_factory=list)
    weather: WeatherConfig | None = None
    rules: BuildingRules = msgspec.field(default_factory=BuildingRules)
    setpoints: Setpoints = msgspec.field(default_factory=Setpoints)
    """The gateway's own defaults; the cloud's retained config overrides them per scope."""
    step_s: Annotated[float, Meta(gt=0, le=60)] = 5.0
    autostep: bool = True
    """False: no stepping thread; the owner calls `step_once` (the demo steps in simulated
    time)."""
    state_queue_max: Annotated[int, Meta(ge=10, le=1_000_000)] = 50_000
    """Window state messages the gateway keeps on disk (its outbox) until ingest acknowledges
    that they are stored — about 300 bytes each, so the default 50,000 (≈ 15 MB) holds weeks of
    decisions, outcomes and positions. When full, the oldest are dropped, counted and reported
    in the gateway status (``window_states_dropped``)."""

    def __post_init__(self) -> None:
        ids = [w.id for w in self.windows]
        if len(set(ids)) != len(ids):
            raise ValueError("a window id is configured twice")
        if self.windows and self.weather is None:
            raise ValueError(
                "windows need a weather mast: set [ventilation.weather] (rain and wind are "
                "required safety inputs)"
            )


def parse_setpoints(base: Setpoints, changes: Any) -> Setpoints:
    """`base` with `changes` (a dict from the cloud) applied; ValueError says what is wrong."""
    if not isinstance(changes, dict):
        raise ValueError("set points must be a JSON object / set points skal være et objekt")
    merged = {**msgspec.to_builtins(base), **changes}
    try:
        return msgspec.convert(merged, Setpoints)
    except msgspec.ValidationError as exc:
        raise ValueError(f"ugyldigt sætpunkt / invalid set point: {exc}") from None
