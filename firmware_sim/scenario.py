"""The scenario file: one building, its flats, rooms, residents and sensors (TOML, validated).

A scenario says *what* is simulated; :mod:`firmware_sim.physics` says *how*. The shipped
``default_scenario.toml`` holds 12 flats on 3 floors; :func:`default_scenario` scales it to any
number of flats by repeating its pattern of behaviour profiles and sensors.

Flats sit in a grid of ``floor`` × ``column``: neighbours are the flats to the left and right on
the same floor and directly above and below — they exchange heat through uninsulated walls and
floors. ``position`` names the exposed sides with the same words as ``cloud.registry.Position``.
"""

from __future__ import annotations

import math
import re
import tomllib
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

_ID = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
Identifier = Annotated[str, Field(pattern=_ID)]
_MAC = re.compile(r"^[0-9A-F]{2}(:[0-9A-F]{2}){5}$")


class SensorKind(StrEnum):
    """Same values as ``edge.config.SensorKind`` (kept apart: firmware_sim never imports the
    gateway; ``tests/test_sim_scenario.py`` checks that the two lists agree)."""

    RUUVI = "ruuvi"
    ARANET4 = "aranet4"
    BTHOME = "bthome"
    XIAOMI_ATC = "xiaomi_atc"
    SCD30 = "scd30"
    SENSEAIR_S8 = "senseair_s8"
    MHZ19B = "mhz19b"


SERIAL_KINDS = frozenset({SensorKind.SCD30, SensorKind.SENSEAIR_S8, SensorKind.MHZ19B})
DEFAULT_MODBUS_ADDRESS: dict[SensorKind, int | None] = {
    SensorKind.SCD30: 0x61,  # Sensirion SCD30 Modbus interface description, 1.2
    SensorKind.SENSEAIR_S8: 0xFE,  # Senseair TDE2067: 0xFE = "any sensor"
    SensorKind.MHZ19B: None,  # Winsen 9-byte protocol, not Modbus
}


class Position(StrEnum):
    """Same names as ``cloud.registry.Position``."""

    CORNER = "corner"
    GABLE = "gable"
    TOP = "top"
    GROUND = "ground"


POSITION_FACTOR: dict[Position, float] = {
    Position.GABLE: 0.90,
    Position.CORNER: 0.85,
    Position.TOP: 0.85,
    Position.GROUND: 0.90,
}
"""Reduction of the fixed heating share per exposed side (multiplied, floored at 0.7).

Assumed values in the range Danish heat-cost distributors use for exposed flats ("reduktions-
faktorer for udsatte lejligheder", typically 10–25 % per exposure); the tariff can override."""


class RoomKind(StrEnum):
    LIVING = "living"
    BEDROOM = "bedroom"
    BATHROOM = "bathroom"
    KITCHEN = "kitchen"


ROOM_AREA_SHARE: dict[RoomKind, float] = {
    RoomKind.LIVING: 0.45,
    RoomKind.BEDROOM: 0.25,
    RoomKind.BATHROOM: 0.08,
    RoomKind.KITCHEN: 0.12,
}
"""Default room floor area as a share of the flat's area (the rest is hall and storage)."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Profile(_Model):
    """How one household behaves (numbers are per day unless named otherwise)."""

    set_point_c: Annotated[float, Field(ge=5, le=30)] = 20.5
    bedroom_offset_k: Annotated[float, Field(ge=-8, le=3)] = -1.0
    """Bedroom air temperature relative to the living room (door shut, radiator turned down)."""
    airings_per_day: tuple[int, int] = (2, 3)
    airing_min: tuple[float, float] = (5.0, 10.0)
    airing_open_fraction: Annotated[float, Field(gt=0, le=1)] = 1.0
    """1 = windows wide open with cross-draught; ~0.2 = one window tilted."""
    air_change_h: Annotated[float, Field(gt=0, le=3)] = 0.5
    """Background air change with windows shut (infiltration + vents), h⁻¹."""
    away_weekdays: Annotated[float, Field(ge=0, le=1)] = 0.6
    """Probability that the household is out on a weekday (work, school)."""
    showers_per_person: Annotated[float, Field(ge=0, le=3)] = 0.8
    cooking_scale: Annotated[float, Field(ge=0, le=5)] = 1.0
    laundry_loads_per_week: Annotated[float, Field(ge=0, le=14)] = 0.0
    """Loads dried indoors (each ~2 kg of water over about a day)."""
    laundry_kg_per_load: Annotated[float, Field(ge=0, le=5)] = 2.0
    laundry_room: RoomKind = RoomKind.LIVING
    """Where the drying rack stands (falls back to the living room)."""

    @model_validator(mode="after")
    def _ranges(self) -> Profile:
        if not 0 <= self.airings_per_day[0] <= self.airings_per_day[1] <= 6:
            raise ValueError("airings_per_day must be (min, max) with 0 <= min <= max <= 6")
        if not 0 < self.airing_min[0] <= self.airing_min[1] <= 600:
            raise ValueError("airing_min must be (min, max) minutes with 0 < min <= max <= 600")
        return self


class SensorSpec(_Model):
    kind: SensorKind
    id: Identifier | None = None
    """Defaults to ``<flat>-<room>-<kind>``."""
    address: str | None = None
    """BLE MAC (``C4:7C:8D:6A:01:02``) — required for BLE kinds."""
    modbus_address: Annotated[int | None, Field(ge=0, le=255)] = None
    """Serial kinds: Modbus slave address (defaults per kind; none for MH-Z19B)."""
    interval_s: Annotated[float, Field(gt=0, le=3600)] = 60.0

    @model_validator(mode="after")
    def _transport(self) -> SensorSpec:
        if self.kind in SERIAL_KINDS:
            if self.address is not None:
                raise ValueError(
                    f"a {self.kind} sensor is serial: give modbus_address, not address"
                )
            if self.modbus_address is None:
                object.__setattr__(self, "modbus_address", DEFAULT_MODBUS_ADDRESS[self.kind])
        else:
            if self.address is None or not _MAC.match(self.address.upper()):
                raise ValueError(
                    f"a {self.kind} sensor needs its BLE address like C4:7C:8D:6A:01:02, "
                    f"got {self.address!r}"
                )
            object.__setattr__(self, "address", self.address.upper())
        return self


class RoomSpec(_Model):
    kind: RoomKind
    id: Identifier | None = None
    """Defaults to the kind (``living``, ``bedroom`` …)."""
    area_m2: Annotated[float | None, Field(gt=0, le=500)] = None
    sensors: list[SensorSpec] = []

    @property
    def name(self) -> str:
        return self.id or str(self.kind)


class FlatSpec(_Model):
    id: Identifier
    area_m2: Annotated[float, Field(gt=10, le=400)]
    floor: Annotated[int, Field(ge=0, le=100)]
    column: Annotated[int, Field(ge=0, le=1000)]
    position: tuple[Position, ...] = ()
    residents: Annotated[int, Field(ge=0, le=12)] = 2
    profile: str = "normal"
    set_point_c: Annotated[float | None, Field(ge=5, le=30)] = None
    """Overrides the profile's thermostat set point."""
    frsi: Annotated[float, Field(gt=0, lt=1)] = 0.70
    """Temperature factor of the worst thermal bridge (DIN 4108-2 minimum 0.70)."""
    thermal_bridge_room: str | None = None
    """Room whose wall holds the worst thermal bridge; default: the first bedroom."""
    rooms: Annotated[list[RoomSpec], Field(min_length=1, max_length=6)]

    @model_validator(mode="after")
    def _rooms(self) -> FlatSpec:
        names = [r.name for r in self.rooms]
        if len(set(names)) != len(names):
            raise ValueError(f"flat {self.id}: room names {names} are not unique")
        if self.thermal_bridge_room is not None and self.thermal_bridge_room not in names:
            raise ValueError(f"flat {self.id}: thermal_bridge_room must be one of {names}")
        return self

    @property
    def bridge_room(self) -> str:
        if self.thermal_bridge_room is not None:
            return self.thermal_bridge_room
        for room in self.rooms:
            if room.kind is RoomKind.BEDROOM:
                return room.name
        return self.rooms[0].name

    @property
    def position_factor(self) -> float:
        factor = math.prod(POSITION_FACTOR[p] for p in set(self.position))
        return round(max(factor, 0.7), 3)


class PhysicsSpec(_Model):
    """Building-wide construction data (a 1960s–70s Danish concrete block by default)."""

    ceiling_height_m: Annotated[float, Field(gt=1.8, le=5)] = 2.5
    depth_m: Annotated[float, Field(gt=3, le=30)] = 10.0
    ua_facade_w_per_m2k: Annotated[float, Field(gt=0, le=5)] = 0.6
    """Front + back facade incl. windows, per m² of floor area."""
    window_share: Annotated[float, Field(ge=0, le=1)] = 0.45
    """Part of the facade UA through windows (couples to the air node)."""
    ua_extra_w_per_m2k: dict[Position, float] = {
        Position.GABLE: 0.22,
        Position.CORNER: 0.30,
        Position.TOP: 0.30,
        Position.GROUND: 0.20,
    }
    """Extra UA per m² floor area for each exposure (gable wall, roof, floor to basement)."""
    u_party_wall_w_per_m2k: Annotated[float, Field(gt=0, le=6)] = 2.5
    """Uninsulated 150 mm concrete wall: R = 0.13 + 0.15/1.8 + 0.13 → U ≈ 2.9 (DS/EN ISO 6946)."""
    u_slab_w_per_m2k: Annotated[float, Field(gt=0, le=6)] = 2.0
    radiator_w_per_m2: Annotated[float, Field(gt=0, le=300)] = 70.0
    thermostat_band_k: Annotated[float, Field(gt=0, le=5)] = 2.0
    """Proportional band of the radiator thermostat (EN 215 rates TRVs at xp = 2 K)."""
    window_air_change_h: Annotated[float, Field(gt=0, le=60)] = 12.0
    """Extra air change with windows fully open (cross-draught airing)."""
    moisture_capacity: Annotated[float, Field(ge=1, le=30)] = 4.0
    """Effective moisture capacitance multiplier on room air volume (sorption in furnishings)."""
    internal_gain_w_per_m2: Annotated[float, Field(ge=0, le=20)] = 2.5


class BuildingSpec(_Model):
    id: Identifier
    name: str = ""
    latitude: Annotated[float, Field(ge=-90, le=90)] = 55.68
    longitude: Annotated[float, Field(ge=-180, le=180)] = 12.57
    timezone: str = "Europe/Copenhagen"
    gateway: Identifier | None = None
    """Gateway id serving every flat; defaults to ``gw-<building id>``."""


class Scenario(_Model):
    building: BuildingSpec
    physics: PhysicsSpec = PhysicsSpec()
    profiles: dict[str, Profile]
    flats: Annotated[list[FlatSpec], Field(min_length=1)]

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        ids = [f.id for f in self.flats]
        if len(set(ids)) != len(ids):
            raise ValueError("flat ids must be unique")
        cells = [(f.floor, f.column) for f in self.flats]
        if len(set(cells)) != len(cells):
            raise ValueError("two flats share the same floor and column")
        for flat in self.flats:
            if flat.profile not in self.profiles:
                raise ValueError(
                    f"flat {flat.id} uses profile {flat.profile!r}; define it under "
                    f"[profiles.{flat.profile}] (known: {sorted(self.profiles)})"
                )
        seen: set[str] = set()
        for sensor_id, _flat, _room, spec in self.sensors():
            device = spec.address or f"{sensor_id}@{spec.modbus_address}"
            for key in (sensor_id, device):
                if key in seen:
                    raise ValueError(f"sensor id or address {key} appears twice")
                seen.add(key)
        return self

    @property
    def gateway_id(self) -> str:
        return self.building.gateway or f"gw-{self.building.id}".lower()

    def sensors(self) -> list[tuple[str, FlatSpec, RoomSpec, SensorSpec]]:
        """Every sensor as ``(sensor id, flat, room, spec)`` in scenario order."""
        out = []
        for flat in self.flats:
            for room in flat.rooms:
                for spec in room.sensors:
                    out.append((spec.id or f"{flat.id}-{room.name}-{spec.kind}", flat, room, spec))
        return out

    def to_registry(self) -> dict[str, Any]:
        """A plain dict that ``cloud.registry.Registry.model_validate`` accepts."""
        flats = [
            {
                "id": f.id,
                "area_m2": f.area_m2,
                "floor": f.floor,
                "position": [str(p) for p in f.position],
                "position_factor": f.position_factor,
                "frsi": f.frsi,
            }
            for f in self.flats
        ]
        building = {"id": self.building.id, "name": self.building.name, "flats": flats}
        gateway = {
            "id": self.gateway_id,
            "building": self.building.id,
            "flats": [f.id for f in self.flats],
        }
        return {"buildings": [building], "gateways": [gateway]}


def parse_scenario(data: dict[str, Any], *, source: str = "scenario") -> Scenario:
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ValueError(f"{source} is not a valid scenario: {exc}") from None


def load_scenario(path: Path | str) -> Scenario:
    """Read and validate a scenario TOML file; errors name the file and the bad field."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"scenario file {path} not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"scenario file {path} is not valid TOML: {exc}") from None
    return parse_scenario(data, source=f"scenario file {path}")


def _shipped() -> Scenario:
    text = resources.files("firmware_sim").joinpath("default_scenario.toml").read_text("utf-8")
    return parse_scenario(tomllib.loads(text), source="default_scenario.toml")


def exposure(floor: int, column: int, floors: int, columns: int) -> tuple[Position, ...]:
    """Exposed sides of the flat at (floor, column) in a rectangular block."""
    out: list[Position] = []
    end = column in (0, columns - 1)
    if end and floor in (0, floors - 1):
        out.append(Position.CORNER)
    elif end:
        out.append(Position.GABLE)
    if floor == floors - 1:
        out.append(Position.TOP)
    if floor == 0:
        out.append(Position.GROUND)
    return tuple(out)


def _mac(kind: SensorKind, serial: int) -> str:
    prefix = {
        SensorKind.RUUVI: "E6:2B",
        SensorKind.ARANET4: "D0:1F",
        SensorKind.BTHOME: "B8:D6",
        SensorKind.XIAOMI_ATC: "A4:C1",
    }[kind]
    return f"{prefix}:{(serial >> 16) & 255:02X}:{(serial >> 8) & 255:02X}:{serial & 255:02X}:01"


def default_scenario(n_flats: int | None = None) -> Scenario:
    """The shipped 12-flat building, or ``n_flats`` flats repeating its pattern.

    Scaled buildings keep the template's number of floors (fewer when ``n_flats`` is smaller),
    fill floor by floor, take profile and sensors from the template flat at the same floor and
    column modulo the template's grid, and recompute positions from the new geometry.
    """
    template = _shipped()
    if n_flats is None or n_flats == len(template.flats):
        return template
    if n_flats < 1:
        raise ValueError(f"n_flats must be at least 1, got {n_flats}")
    t_floors = 1 + max(f.floor for f in template.flats)
    t_cols = 1 + max(f.column for f in template.flats)
    by_cell = {(f.floor, f.column): f for f in template.flats}
    floors = min(t_floors, n_flats)
    columns = math.ceil(n_flats / floors)
    flats: list[dict[str, Any]] = []
    serial = 0
    for i in range(n_flats):
        floor, column = divmod(i, columns)
        src = (
            by_cell.get((floor % t_floors, column % t_cols))
            or template.flats[i % len(template.flats)]
        )
        flat_id = f"{template.building.id}-{floor}{column + 1:02d}"
        rooms = []
        for room in src.rooms:
            sensors = []
            for spec in room.sensors:
                serial += 1
                s = spec.model_dump(exclude={"id"})
                if spec.kind not in SERIAL_KINDS:
                    s["address"] = _mac(spec.kind, serial)
                sensors.append(s)
            rooms.append({**room.model_dump(exclude={"sensors"}), "sensors": sensors})
        flat = src.model_dump(exclude={"rooms"})
        flat.update(
            id=flat_id,
            floor=floor,
            column=column,
            position=exposure(floor, column, floors, columns),
            rooms=rooms,
        )
        flats.append(flat)
    data = template.model_dump()
    data["flats"] = flats
    return parse_scenario(data, source=f"default scenario scaled to {n_flats} flats")
