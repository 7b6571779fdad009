"""The jobs on a simulated day of the default building (firmware_sim): the flat whose resident
dries laundry indoors and never airs (B1-104, profile laundry_no_airing) raises a mould-risk
alert; the well-behaved flats do not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cloud.analytics.alert_store import AlertStore
from cloud.jobs.runner import MOULD_RISK_KINDS, run_jobs_once
from cloud.registry import Registry
from cloud.store.base import CLIMATE, Point
from cloud.store.sqlite import SqliteStore
from firmware_sim.building import Building
from firmware_sim.scenario import default_scenario

START = datetime(2026, 11, 26, 6, tzinfo=UTC)


def test_laundry_flat_warns_and_the_others_do_not(tmp_path: Path) -> None:
    scenario = default_scenario()
    building = Building(scenario, seed=1, start=START)
    where = {sid: (flat.id, room.name) for sid, flat, room, _ in scenario.sensors()}
    points: list[Point] = []
    for _ in range(24 * 12):
        building.step(300.0)
        ns = int(building.now.timestamp()) * 1_000_000_000
        for sensor, values in building.sensor_truth().items():
            flat, room = where[sensor]
            tags = {"building": "B1", "flat": flat, "room": room, "sensor": sensor}
            fields = {k: v for k, v in values.items() if k != "battery_mv"}
            points.append(Point(CLIMATE, tags, fields, ns))
        wx = building.weather_now()
        points.append(Point("weather", {"building": "B1"}, {"temperature_c": wx.temperature_c}, ns))
    registry = Registry.model_validate(scenario.to_registry())
    with SqliteStore(tmp_path / "store.sqlite") as store:
        store.write(points)
        summary = run_jobs_once(store, registry, tmp_path / "jobs", building.now)
    assert summary.skipped == []
    with AlertStore(tmp_path / "jobs" / "alerts.sqlite") as alerts:
        risky = {a.flat for a in alerts.open_alerts() if a.kind in MOULD_RISK_KINDS}
    assert risky == {"B1-104"}
    assert summary.mould_alerts >= 1
    assert building.now - START == timedelta(days=1)
