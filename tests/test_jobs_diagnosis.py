"""The weekly diagnosis on simulated flats with a known cause, through the store: a cold corner
(fRsi 0.50, fitted from a temporary surface sensor), a broken window motor (commanded open,
reported closed) and the family that dries laundry indoors and never airs — each gets its own
diagnosis; an ordinary flat gets none."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cloud.analytics.diagnosis import Cause
from cloud.jobs.diagnosis_job import DIAGNOSIS_MEASUREMENT, diagnose_building, diagnosis_points
from cloud.registry import Registry
from cloud.store.base import Point
from cloud.store.sqlite import SqliteStore
from firmware_sim.building import Building
from firmware_sim.scenario import default_scenario

START = datetime(2027, 1, 4, tzinfo=UTC)
END = START + timedelta(days=7)
COLD_CORNER, BROKEN_MOTOR, LAUNDRY, ORDINARY = "B1-001", "B1-201", "B1-104", "B1-202"


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory) -> tuple[SqliteStore, Registry]:
    scenario = default_scenario()
    flats = [
        f.model_copy(update={"frsi": 0.50}) if f.id == COLD_CORNER else f for f in scenario.flats
    ]
    scenario = scenario.model_copy(update={"flats": flats})
    building = Building(scenario, seed=1, start=START, warm_up_days=2)
    sensors = scenario.sensors()
    b_id = scenario.building.id
    corner = building.layout.flat_ids.index(COLD_CORNER)
    points: list[Point] = []
    while building.now < END:
        building.step(300)
        ns = int(building.now.timestamp()) * 10**9
        truth = building.sensor_truth()
        for sid, flat, room, _spec in sensors:
            tags = {"building": b_id, "flat": flat.id, "room": room.name, "sensor": sid}
            points.append(Point("climate", tags, truth[sid], ns))
        # a temporary surface sensor on the cold corner's bedroom wall (the thermal bridge)
        surface = float(building.flat_arrays()["surface_temperature_c"][corner])
        tags = {"building": b_id, "flat": COLD_CORNER, "room": "bedroom", "sensor": "surface-1"}
        points.append(Point("climate", tags, {"surface_temperature_c": surface}, ns))
        w = building.weather_now()
        weather = {"temperature_c": w.temperature_c, "humidity_pct": w.humidity_pct}
        points.append(Point("weather", {"building": b_id}, weather, ns))
    # the broken motor: sent open twice a day, never reports anything but closed
    tags = {"building": b_id, "flat": BROKEN_MOTOR, "window": f"{BROKEN_MOTOR}-w1"}
    for day in range(7):
        at = START + timedelta(days=day, hours=8)
        command = {"commanded_pct": 100.0, "travel_s": 60.0}
        points.append(Point("window", tags, command, int(at.timestamp()) * 10**9))
        report = int((at + timedelta(minutes=2)).timestamp()) * 10**9
        points.append(Point("window", tags, {"reported_pct": 0.0}, report))
    store = SqliteStore(tmp_path_factory.mktemp("diagnosis") / "store.sqlite")
    store.write(points)
    return store, Registry.model_validate(scenario.to_registry())


def test_each_known_cause_gets_its_own_diagnosis(week: tuple[SqliteStore, Registry]) -> None:
    store, registry = week
    found = diagnose_building(store, registry.buildings[0], END)
    corner, motor, laundry, ordinary = (
        found[f] for f in (COLD_CORNER, BROKEN_MOTOR, LAUNDRY, ORDINARY)
    )
    assert corner.causes == (Cause.ENVELOPE,)
    assert corner.frsi_fitted and corner.frsi == pytest.approx(0.50, abs=0.05)
    assert motor.causes == (Cause.VENTILATION,)
    assert motor.window_faults == 1
    assert Cause.HABITS in laundry.causes and Cause.ENVELOPE not in laundry.causes
    assert {e.name for e in laundry.evidence if e.cause is Cause.HABITS} == {"airing_events"}
    assert laundry.surface_rh_hours_above_80 > 100  # the damp bedroom
    assert ordinary.causes == ()
    assert ordinary.airing_events >= 7 and ordinary.air_change_per_h == pytest.approx(0.5, rel=0.2)
    assert laundry.moisture_g_per_h is not None and ordinary.moisture_g_per_h is not None
    assert laundry.moisture_g_per_h > 2 * ordinary.moisture_g_per_h
    for d in (corner, motor, laundry):
        assert d.advice_da and d.advice_en and d.advice_da != d.advice_en
        assert all(e.text_da and e.text_en for e in d.evidence)


def test_diagnoses_are_stored_with_evidence(
    week: tuple[SqliteStore, Registry], tmp_path: Path
) -> None:
    store, registry = week
    found = diagnose_building(store, registry.buildings[0], END)
    store.write(diagnosis_points("B1", END, found))
    frame = store.query(DIAGNOSIS_MEASUREMENT, START, END + timedelta(seconds=1))
    rows = frame.set_index("flat")
    assert rows.loc[COLD_CORNER, "causes"] == "envelope"
    assert rows.loc[ORDINARY, "causes"] == "none"
    evidence = json.loads(rows.loc[BROKEN_MOTOR, "evidence_json"])
    assert [e["name"] for e in evidence] == ["window_faults"]


def test_no_weather_no_diagnosis(tmp_path: Path) -> None:
    registry = Registry.model_validate(default_scenario().to_registry())
    with SqliteStore(tmp_path / "empty.sqlite") as store:
        assert diagnose_building(store, registry.buildings[0], END) == {}
