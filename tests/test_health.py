"""Sensor health: the silence watchdog and the plausibility flags, as tables."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.config import SensorConfig, WatchdogConfig
from edge.sensors.health import (
    PlausibilityChecker,
    PlausibilityConfig,
    Watchdog,
    format_duration,
    format_volts,
)

T0 = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
MAC = "C4:7C:8D:6A:01:02"
RUUVI = SensorConfig(
    id="stue-1",
    kind="ruuvi",
    building="B1",
    flat="A-12",
    room="stue",
    address=MAC,
    expected_interval_s=60,
)
SCD30 = SensorConfig(
    id="sove-1",
    kind="scd30",
    building="B1",
    flat="A-14",
    room="sove",
    port="/dev/ttyUSB0",
    modbus_address=0x61,
    expected_interval_s=120,
)


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


def watchdog(silent_after: float = 5.0) -> Watchdog:
    return Watchdog([RUUVI, SCD30], WatchdogConfig(silent_after=silent_after), started=T0)


def test_silent_sensor_reported_once_with_last_battery_in_danish_and_english():
    dog = watchdog()
    dog.seen(MAC, minutes(0), battery_mv=2410)
    dog.seen(SCD30.device, minutes(29))
    assert dog.check(minutes(5)) == []
    (event,) = dog.check(minutes(31))
    assert event.silent and event.device == MAC and event.flat == "A-12"
    assert event.last_seen == minutes(0) and event.battery_mv == 2410
    assert event.message_da == (
        "sensor C4:7C:8D:6A:01:02 i lejlighed A-12 har været tavs i 31 min"
        " — tjek batteriet (sidst 2,41 V)"
    )
    assert event.message_en == (
        "sensor C4:7C:8D:6A:01:02 in flat A-12 silent for 31 min — check its battery (last 2.41 V)"
    )
    assert [e.device for e in dog.check(minutes(32))] == []  # once, not every check


def test_sensor_coming_back_is_reported_once():
    dog = watchdog()
    dog.seen(MAC, minutes(0))
    dog.seen(SCD30.device, minutes(0))
    assert {e.device for e in dog.check(minutes(9))} == {MAC}
    dog.seen(MAC, minutes(40), battery_mv=2950)
    dog.seen(SCD30.device, minutes(40))
    (back,) = dog.check(minutes(40))
    assert (back.device, back.silent, back.silent_for) == (MAC, False, timedelta(minutes=40))
    assert (
        back.message_da
        == "sensor C4:7C:8D:6A:01:02 i lejlighed A-12 sender igen efter 40 min uden data"
    )
    assert dog.check(minutes(41)) == []


# (what happens, check at minute, silent devices expected)
WATCH_TABLE = {
    "silent exactly at the limit is not yet silent": ([(MAC, 0), (SCD30.device, 0)], 5, set()),
    "just past 5 intervals of 60 s": ([(MAC, 0), (SCD30.device, 0)], 5.01, {MAC}),
    "serial sensor has a 120 s interval": ([(MAC, 9), (SCD30.device, 0)], 10.5, {SCD30.device}),
    "never seen counts from start": ([], 5.5, {MAC}),
    "unknown devices are ignored": ([("AA:BB:CC:DD:EE:FF", 5)], 5.5, {MAC}),
    "an older report does not rewind last seen": ([(MAC, 4), (MAC, 1)], 8.5, set()),
}


@pytest.mark.parametrize(("reports", "at", "silent"), WATCH_TABLE.values(), ids=WATCH_TABLE)
def test_watchdog_table(reports, at, silent):
    dog = watchdog()
    for device, minute in reports:
        dog.seen(device, minutes(minute))
    assert {e.device for e in dog.check(minutes(at)) if e.silent} == silent


def test_serial_sensor_without_battery_gets_a_cable_hint():
    dog = watchdog()
    dog.seen(MAC, minutes(59))
    (event,) = dog.check(minutes(61))
    assert event.message_en.endswith("silent for 61 min — check its cable and power supply")
    assert "tjek kabel og strømforsyning" in event.message_da


def test_health_reflects_the_last_check():
    dog = watchdog()
    dog.seen(MAC, minutes(0), battery_mv=2410)
    dog.check(minutes(31))
    health = {h.sensor: h for h in dog.health()}
    assert health["stue-1"].silent and health["stue-1"].battery_mv == 2410
    assert health["stue-1"].last_seen_ms == int(T0.timestamp() * 1000)
    assert health["sove-1"].last_seen_ms is None


def test_naive_times_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        watchdog().seen(MAC, datetime(2026, 1, 15, 12, 0))  # noqa: DTZ001


DURATIONS = {
    "seconds": (timedelta(seconds=45.7), "45 s", "45 s"),
    "minutes": (timedelta(minutes=31), "31 min", "31 min"),
    "under two hours": (timedelta(minutes=119), "119 min", "119 min"),
    "hours": (timedelta(hours=5, minutes=3), "5 t 3 min", "5 h 3 min"),
    "days": (timedelta(days=3, hours=2), "3 døgn", "3 days"),
}


@pytest.mark.parametrize(("duration", "da", "en"), DURATIONS.values(), ids=DURATIONS)
def test_format_duration(duration, da, en):
    assert (format_duration(duration, True), format_duration(duration, False)) == (da, en)


def test_format_volts_uses_a_decimal_comma_in_danish():
    assert (format_volts(2410, True), format_volts(2410, False)) == ("2,41 V", "2.41 V")


# --- plausibility ------------------------------------------------------------------------

RANGE_TABLE = {
    "normal indoor": ({"temperature_c": 21.3, "humidity_pct": 45.0, "co2_ppm": 800.0}, ()),
    "co2 above 10000": ({"co2_ppm": 10_001.0}, ("out_of_range:co2_ppm",)),
    "negative co2": ({"co2_ppm": -1.0}, ("out_of_range:co2_ppm",)),
    "rh above 100": ({"humidity_pct": 100.5}, ("out_of_range:humidity_pct",)),
    "limits are inside": ({"temperature_c": -40.0, "humidity_pct": 100.0}, ()),
    "too cold": ({"temperature_c": -40.1}, ("out_of_range:temperature_c",)),
    "too hot": ({"temperature_c": 85.1}, ("out_of_range:temperature_c",)),
    "nan": ({"temperature_c": math.nan}, ("out_of_range:temperature_c",)),
    "unranged quantity passes": ({"voc_index": 1e6}, ()),
    "two at once, in order": (
        {"humidity_pct": -3.0, "co2_ppm": 99_999.0},
        ("out_of_range:humidity_pct", "out_of_range:co2_ppm"),
    ),
}


@pytest.mark.parametrize(("values", "flags"), RANGE_TABLE.values(), ids=RANGE_TABLE)
def test_range_flags(values, flags):
    assert PlausibilityChecker().check("dev", T0, values) == flags


def test_configurable_range():
    checker = PlausibilityChecker(PlausibilityConfig(ranges={"co2_ppm": (400.0, 5000.0)}))
    assert checker.check("dev", T0, {"co2_ppm": 5001.0}) == ("out_of_range:co2_ppm",)


def run_series(series, config=None):
    """Feed (minute, value) temperature samples; return the flags of each."""
    checker = PlausibilityChecker(config or PlausibilityConfig())
    return [checker.check("dev", minutes(m), {"temperature_c": v}) for m, v in series]


STUCK = PlausibilityConfig(stuck_after={"temperature_c": 3})
SERIES_TABLE = {
    "jitter is fine": ([(0, 21.0), (1, 21.1), (2, 21.0), (3, 21.05)], [(), (), (), ()], None),
    "stuck from the Nth identical sample": (
        [(0, 21.0), (1, 21.0), (2, 21.0), (3, 21.0), (4, 21.1)],
        [(), (), ("stuck:temperature_c",), ("stuck:temperature_c",), ()],
        STUCK,
    ),
    "6 °C in one minute is a jump": ([(0, 21.0), (1, 27.0)], [(), ("jump:temperature_c",)], None),
    "4.9 °C in one minute is not": ([(0, 21.0), (1, 25.9)], [(), ()], None),
    "6 °C over two minutes is believable": ([(0, 21.0), (2, 27.0)], [(), ()], None),
    "fast samples still allow 5 °C": ([(0, 21.0), (0.1, 25.0)], [(), ()], None),
    "a spike does not move the baseline": (
        [(0, 21.0), (1, 40.0), (2, 21.2)],
        [(), ("jump:temperature_c",), ()],
        None,
    ),
    "a real step is believed once enough time has passed": (
        [(0, 21.0), (1, 29.0), (2, 29.0)],
        [(), ("jump:temperature_c",), ()],
        None,
    ),
    "backfilled older sample is only range-checked": (
        [(5, 21.0), (1, 60.0), (6, 21.1)],
        [(), (), ()],
        None,
    ),
}


@pytest.mark.parametrize(("series", "flags", "config"), SERIES_TABLE.values(), ids=SERIES_TABLE)
def test_series_flags(series, flags, config):
    assert run_series(series, config) == flags


def test_quantities_that_do_not_jitter_are_never_stuck():
    checker = PlausibilityChecker()
    flags = [checker.check("dev", minutes(m), {"battery_mv": 2950.0}) for m in range(100)]
    assert set(flags) == {()}


def test_devices_are_tracked_separately():
    checker = PlausibilityChecker()
    checker.check("a", minutes(0), {"temperature_c": 21.0})
    assert checker.check("b", minutes(1), {"temperature_c": 30.0}) == ()
    assert checker.check("a", minutes(1), {"temperature_c": 30.0}) == ("jump:temperature_c",)


QUANTITY = st.sampled_from(["temperature_c", "humidity_pct", "co2_ppm", "voc_index"])


@given(
    st.lists(
        st.tuples(
            st.floats(min_value=0, max_value=1e4),
            st.dictionaries(QUANTITY, st.floats(allow_nan=True), min_size=1),
        ),
        max_size=30,
    )
)
def test_any_samples_give_only_known_flags(samples):
    checker = PlausibilityChecker()
    for minute, values in samples:
        for flag in checker.check("dev", minutes(minute), values):
            kind, _, quantity = flag.partition(":")
            assert kind in {"out_of_range", "stuck", "jump"}
            assert quantity in values
