"""Scenario files: the shipped default, validation errors, scaling, and the registry export."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from cloud.registry import Position as RegistryPosition
from cloud.registry import Registry
from edge.config import SensorKind as EdgeSensorKind
from firmware_sim.scenario import (
    SERIAL_KINDS,
    Position,
    SensorKind,
    default_scenario,
    exposure,
    load_scenario,
    parse_scenario,
)

REQUIRED_PROFILES = {"normal", "cold", "warm", "window_opener", "laundry_no_airing"}
CO2_KINDS = {SensorKind.ARANET4, SensorKind.SCD30, SensorKind.SENSEAIR_S8, SensorKind.MHZ19B}


def test_enums_match_the_gateway_and_the_registry() -> None:
    assert {k.value for k in SensorKind} == {k.value for k in EdgeSensorKind}
    assert {p.value for p in Position} == {p.value for p in RegistryPosition}


def test_default_scenario_is_a_mixed_building() -> None:
    s = default_scenario()
    assert len(s.flats) == 12
    assert {f.floor for f in s.flats} == {0, 1, 2}
    positions = Counter(p for f in s.flats for p in f.position)
    assert {Position.CORNER, Position.GABLE, Position.TOP, Position.GROUND} <= set(positions)
    assert any(not f.position for f in s.flats), "needs interior flats too"
    assert set(s.profiles) >= REQUIRED_PROFILES
    assert {f.profile for f in s.flats} >= REQUIRED_PROFILES
    assert all(2 <= len(f.rooms) <= 3 for f in s.flats)


def test_default_scenario_mixes_sensor_types() -> None:
    s = default_scenario()
    kinds = Counter(spec.kind for *_, spec in s.sensors())
    assert set(kinds) == set(SensorKind), "every supported kind appears at least once"
    per_flat: dict[str, set[SensorKind]] = {}
    for _sid, flat, _room, spec in s.sensors():
        per_flat.setdefault(flat.id, set()).add(spec.kind)
    with_ruuvi_and_co2 = [f for f, k in per_flat.items() if SensorKind.RUUVI in k and k & CO2_KINDS]
    assert len(with_ruuvi_and_co2) > len(s.flats) / 2
    assert all(k & CO2_KINDS for k in per_flat.values()), "every flat has a CO2 sensor"


def test_laundry_flat_has_a_sensor_in_the_room_with_the_thermal_bridge() -> None:
    s = default_scenario()
    flat = next(f for f in s.flats if f.profile == "laundry_no_airing")
    room = next(r for r in flat.rooms if r.name == flat.bridge_room)
    assert room.sensors, "mould analytics needs T/RH where the thermal bridge is"


def test_sensor_addresses_follow_the_transport() -> None:
    for sid, _flat, _room, spec in default_scenario().sensors():
        if spec.kind in SERIAL_KINDS:
            assert spec.address is None, sid
        else:
            assert spec.address is not None and len(spec.address) == 17, sid


@pytest.mark.parametrize("n", [1, 2, 5, 12, 13, 30, 100])
def test_default_scenario_scales_to_n_flats(n: int) -> None:
    s = default_scenario(n)
    assert len(s.flats) == n
    assert len({f.id for f in s.flats}) == n
    addresses = [spec.address for *_, spec in s.sensors() if spec.address]
    assert len(set(addresses)) == len(addresses)
    floors = 1 + max(f.floor for f in s.flats)
    columns = 1 + max(f.column for f in s.flats)
    for f in s.flats:
        assert f.position == exposure(f.floor, f.column, floors, columns)
    if n >= 12:
        assert {f.profile for f in s.flats} >= REQUIRED_PROFILES


def test_registry_export_validates_in_the_cloud_registry() -> None:
    s = default_scenario()
    reg = Registry.model_validate(s.to_registry())
    building = reg.building("B1")
    assert len(building.flats) == 12
    assert reg.serves(s.gateway_id, "B1", "B1-104")
    factors = {f.id: f.position_factor for f in building.flats}
    assert factors["B1-103"] == 1.0  # interior
    assert factors["B1-101"] == pytest.approx(0.9)  # one gable
    assert all(0.7 <= v < 1.0 for k, v in factors.items() if k not in {"B1-102", "B1-103"})
    assert {f.frsi for f in building.flats} == {0.70}


BASE = {
    "building": {"id": "B9"},
    "profiles": {"normal": {}},
    "flats": [
        {
            "id": "B9-1",
            "area_m2": 60,
            "floor": 0,
            "column": 0,
            "rooms": [{"kind": "living"}],
        }
    ],
}


def _with(**flat_changes: object) -> dict[str, object]:
    flat = {**BASE["flats"][0], **flat_changes}  # type: ignore[index]
    return {**BASE, "flats": [flat]}


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("unknown profile", _with(profile="party"), "define it under [profiles.party]"),
        (
            "BLE sensor without MAC",
            _with(rooms=[{"kind": "living", "sensors": [{"kind": "ruuvi"}]}]),
            "needs its BLE address",
        ),
        (
            "serial sensor with a MAC",
            _with(
                rooms=[
                    {
                        "kind": "living",
                        "sensors": [{"kind": "scd30", "address": "C4:7C:8D:6A:01:02"}],
                    }
                ]
            ),
            "give modbus_address",
        ),
        (
            "duplicate rooms",
            _with(rooms=[{"kind": "living"}, {"kind": "living"}]),
            "not unique",
        ),
        ("negative area", _with(area_m2=-5), "area_m2"),
        (
            "two flats in one cell",
            {**BASE, "flats": [BASE["flats"][0], {**BASE["flats"][0], "id": "B9-2"}]},  # type: ignore[index]
            "same floor and column",
        ),
    ],
)
def test_invalid_scenarios_say_what_is_wrong(
    name: str, data: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_scenario(data)


def test_serial_sensor_gets_its_default_modbus_address() -> None:
    s = parse_scenario(_with(rooms=[{"kind": "living", "sensors": [{"kind": "scd30"}]}]))
    assert s.sensors()[0][3].modbus_address == 0x61


def test_load_scenario_reads_toml_and_reports_missing_files(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(
        '[building]\nid = "X1"\n[profiles.normal]\n[[flats]]\nid = "X1-1"\narea_m2 = 50\n'
        'floor = 0\ncolumn = 0\nrooms = [{ kind = "living" }, { kind = "bedroom" }]\n',
        encoding="utf-8",
    )
    s = load_scenario(path)
    assert s.flats[0].bridge_room == "bedroom"
    with pytest.raises(ValueError, match="not found"):
        load_scenario(tmp_path / "missing.toml")
    path.write_text("[building", encoding="utf-8")
    with pytest.raises(ValueError, match="not valid TOML"):
        load_scenario(path)
