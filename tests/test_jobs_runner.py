"""The jobs runner against the embedded SQLite store: a damp flat warns, the others do not."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from cloud.analytics.alert_store import AlertStore
from cloud.analytics.alerts import Alert, AlertKind, AlertState
from cloud.cli import main
from cloud.jobs.runner import JobsConfig, run_jobs_once
from cloud.registry import Building, Flat, Registry
from cloud.servers import MosquittoServer
from cloud.store.base import CLIMATE, Point
from cloud.store.sqlite import SqliteStore

START = datetime(2026, 1, 1, tzinfo=UTC)
END = datetime(2026, 1, 31, 12, tzinfo=UTC)
CONFIG = JobsConfig(lookback=timedelta(days=40))

# flat → (room air temperature °C, RH %, CO2 ppm)
FLATS = {
    "B1-01": (21.0, 40.0, 650.0),
    "B1-02": (18.0, 75.0, 900.0),  # laundry drying indoors, never airs: damp
    "B1-03": (20.5, 45.0, 700.0),
}


def _registry() -> Registry:
    return Registry(buildings=[Building(id="B1", flats=[Flat(id=f, area_m2=60.0) for f in FLATS])])


def _fill(store: SqliteStore, until: datetime, *, weather: bool = True) -> None:
    """Hourly readings from START, and one 5 minutes before `until` (the sensors are alive)."""
    points = []
    hours = int((until - START) / timedelta(hours=1))
    times = [START + i * timedelta(hours=1) for i in range(hours)]
    for t in [*times, until - timedelta(minutes=5)]:
        ns = int(t.timestamp()) * 1_000_000_000
        for flat, (temp, rh, co2) in FLATS.items():
            tags = {"building": "B1", "flat": flat, "room": "bedroom", "sensor": f"s-{flat}"}
            fields = {"temperature_c": temp, "humidity_pct": rh, "co2_ppm": co2}
            points.append(Point(CLIMATE, tags, fields, ns))
        if weather:
            points.append(Point("weather", {"building": "B1"}, {"temperature_c": 0.0}, ns))
    store.write(points)


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    s = SqliteStore(tmp_path / "store.sqlite")
    _fill(s, END)
    return s


def _open(state_dir: Path) -> list[Alert]:
    with AlertStore(state_dir / "alerts.sqlite") as alerts:
        return alerts.open_alerts()


def test_damp_flat_raises_a_mould_warning_and_the_others_do_not(
    store: SqliteStore, tmp_path: Path
) -> None:
    published: list[Alert] = []
    summary = run_jobs_once(
        store, _registry(), tmp_path / "jobs", END, published.extend, config=CONFIG
    )
    mould = [a for a in _open(tmp_path / "jobs") if a.kind is AlertKind.MOULD]
    assert [a.flat for a in mould] == ["B1-02"]
    surface = {a.flat for a in _open(tmp_path / "jobs") if a.kind is AlertKind.SURFACE_RH}
    assert surface == {"B1-02"}
    assert summary.mould_alerts == 2  # mould index and surface RH, both in B1-02
    assert summary.flats_red_this_month == 1  # B1-02: 75 % RH all month
    assert summary.skipped == []
    assert {a.flat for a in published} == {"B1-02"}
    assert store.count("alerts") == len(published)
    frame = store.query("mould", START, END, where={"flat": "B1-02"})
    assert frame["mould_index"].max() >= 1.0
    assert frame["surface_rh_pct"].iloc[0] == pytest.approx(100 * 75 / 72.9, rel=0.05)
    dry = store.query("mould", START, END, where={"flat": "B1-01"})
    assert dry["mould_index"].max() == 0.0
    comfort = store.query("comfort_index", START - timedelta(days=1), END)  # at local month start
    assert set(comfort["light"]) == {"green", "red"}


def test_incremental_runs_continue_the_model(tmp_path: Path) -> None:
    """Two runs (day 15, then day 31) end in the same model state as one run."""
    split = datetime(2026, 1, 15, tzinfo=UTC)
    with SqliteStore(tmp_path / "a.sqlite") as a, SqliteStore(tmp_path / "b.sqlite") as b:
        _fill(a, END)
        _fill(b, END)
        run_jobs_once(a, _registry(), tmp_path / "twice", split, config=CONFIG)
        run_jobs_once(a, _registry(), tmp_path / "twice", END, config=CONFIG)
        run_jobs_once(b, _registry(), tmp_path / "once", END, config=CONFIG)
    twice = json.loads((tmp_path / "twice" / "B1.json").read_text())["mould"]
    once = json.loads((tmp_path / "once" / "B1.json").read_text())["mould"]
    assert twice["until"] == once["until"] == "2026-01-31T12:00:00+00:00"
    np.testing.assert_allclose(twice["vtt"]["m"], once["vtt"]["m"])
    assert max(once["vtt"]["m"]) > 1.0
    # a third run with no new complete hour changes nothing
    with SqliteStore(tmp_path / "a.sqlite") as a:
        again = run_jobs_once(a, _registry(), tmp_path / "twice", END, config=CONFIG)
    assert again.hours_processed == 0
    assert again.alerts_changed == 0


def test_without_outdoor_temperature_mould_is_skipped_and_said(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / "s.sqlite") as s:
        _fill(s, END, weather=False)
        summary = run_jobs_once(s, _registry(), tmp_path / "jobs", END, config=CONFIG)
        assert s.count("mould") == 0
    assert len(summary.skipped) == 1
    assert "ingen udetemperatur" in summary.skipped[0]
    assert "no outdoor temperature for building B1" in summary.skipped[0]
    assert summary.mould_alerts == 0
    assert summary.flats_red_this_month == 1  # comfort still runs


def test_silent_flat_raises_a_sensor_alert(store: SqliteStore, tmp_path: Path) -> None:
    registry = Registry(
        buildings=[
            Building(
                id="B1",
                flats=[*(Flat(id=f, area_m2=60.0) for f in FLATS), Flat(id="B1-04", area_m2=50)],
            )
        ]
    )
    run_jobs_once(store, registry, tmp_path / "jobs", END, config=CONFIG)
    silent = [a for a in _open(tmp_path / "jobs") if a.kind is AlertKind.SENSOR_SILENT]
    assert [(a.flat, a.state) for a in silent] == [("B1-04", AlertState.NEW)]


def test_jobs_cli_once(
    store: SqliteStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    registry = tmp_path / "registry.json"
    _registry().dump_json(registry)
    store.close()
    code = main(
        [
            "jobs",
            "run",
            "--once",
            "--registry",
            str(registry),
            "--sqlite",
            str(tmp_path / "store.sqlite"),
            "--state-dir",
            str(tmp_path / "state"),
            "--now",
            "2026-01-31T12:00:00+00:00",
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["buildings"] == 1
    assert summary["mould_alerts"] == 2
    assert summary["flats_red_this_month"] == 1
    assert (tmp_path / "state" / "B1.json").exists()


@pytest.mark.servers
def test_jobs_cli_publishes_alerts_on_mqtt(
    store: SqliteStore, tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    received: list[str] = []
    subscribed = threading.Event()
    sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-alerts")
    sub.on_subscribe = lambda *_: subscribed.set()
    sub.on_message = lambda _c, _u, m: received.append(m.topic)
    sub.connect("127.0.0.1", mosquitto.port)
    sub.loop_start()
    try:
        sub.subscribe("indeklima/v1/alerts/#", qos=1)
        assert subscribed.wait(10)
        registry = tmp_path / "registry.json"
        _registry().dump_json(registry)
        store.close()
        args = ["jobs", "run", "--once", "--registry", str(registry)]
        args += ["--sqlite", str(tmp_path / "store.sqlite"), "--state-dir", str(tmp_path / "s")]
        args += ["--now", "2026-01-31T12:00Z", "--mqtt-url", mosquitto.url]
        assert main(args) == 0
        deadline = time.monotonic() + 10
        while len(received) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        sub.loop_stop()
        sub.disconnect()
    assert set(received) == {"indeklima/v1/alerts/B1/B1-02"}
