"""Aranet4 history backfill against the emulated GATT server (firmware_sim.devices.aranet_gatt).

Protocol reference: https://github.com/Anrijs/Aranet4-Python (aranet4/client.py, docs/UUIDs.md).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from edge.sensors.ble.backfill import (
    BackfillError,
    BackfillReason,
    fetch_aranet4_history,
    gap_to_backfill,
    index_window,
    record_times,
)
from edge.sensors.model import Sample, SensorValues
from firmware_sim.devices.aranet_gatt import (
    CAPACITY,
    PARAM_CO2,
    PARAM_HUMIDITY,
    PARAM_TEMPERATURE,
    AranetGattDevice,
    AranetGattRegistry,
)

ADDRESS = "c4:7c:8d:6a:a4:01"
STEP = timedelta(minutes=5)
OUTAGE_START = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)  # last live reading before the outage
OUTAGE_END = datetime(2026, 11, 28, 13, 0, tzinfo=UTC)  # first live reading after it
NOW = OUTAGE_END + timedelta(seconds=42)  # backfill runs 42 s after the device's last record
FIRST = OUTAGE_END - timedelta(hours=24)  # the device has logged for a day


def values_at(k: int) -> SensorValues:
    """What the device measured at record k, at the resolution that survives the trip: the
    aranet4 parser rounds temperatures to 0.1 °C (the device stores 0.05 °C steps)."""
    return SensorValues(
        temperature_c=round(20 + (k % 40) * 0.1, 1),
        humidity_pct=float(35 + k % 30),
        pressure_hpa=round(990 + (k % 200) * 0.1, 1),
        co2_ppm=float(420 + 7 * (k % 150)),
    )


def make_device(registry: AranetGattRegistry, **kwargs: object) -> AranetGattDevice:
    device = registry.add(AranetGattDevice(ADDRESS, clock=lambda: NOW, **kwargs))  # type: ignore[arg-type]
    t = FIRST
    k = 0
    while t <= OUTAGE_END:
        device.log(t, values_at(k))
        t += STEP
        k += 1
    return device


def expected(since: datetime, until: datetime) -> list[Sample]:
    out = []
    t, k = FIRST, 0
    while t <= OUTAGE_END:
        if since < t < until:
            out.append(
                Sample(device=ADDRESS.upper(), values=values_at(k), time=t, interval_s=300.0)
            )
        t += STEP
        k += 1
    return out


def fetch(
    registry: AranetGattRegistry, since: datetime, until: datetime, **kwargs: object
) -> list[Sample]:
    options: dict[str, object] = {
        "client_backend": registry.client_backend(),
        "clock": lambda: NOW,
        "backoff_s": 0.01,
        "timeout_s": 5,
        **kwargs,
    }
    return asyncio.run(fetch_aranet4_history(ADDRESS, since, until, **options))  # type: ignore[arg-type]


# -- the gap after a 3-hour outage ----------------------------------------------------------


@pytest.mark.parametrize("history_v2", [True, False], ids=["history-v2-read", "history-v1-notify"])
def test_three_hour_outage_gives_the_35_missing_records(history_v2: bool) -> None:
    registry = AranetGattRegistry()
    make_device(registry, history_v2=history_v2)
    window = gap_to_backfill(OUTAGE_START, OUTAGE_END, 300)
    assert window is not None
    samples = fetch(registry, *window)
    assert len(samples) == 35
    assert samples == expected(OUTAGE_START, OUTAGE_END)
    assert samples[0].time == OUTAGE_START + STEP
    assert samples[-1].time == OUTAGE_END - STEP
    assert all(OUTAGE_START < s.time < OUTAGE_END for s in samples if s.time)


@pytest.mark.parametrize(
    ("name", "since", "until", "count"),
    [
        ("bounds on records are exclusive", OUTAGE_START, OUTAGE_END, 35),
        (
            "one second past a record includes it",
            OUTAGE_START,
            OUTAGE_END + timedelta(seconds=1),
            36,
        ),
        ("first live reading missed: 36", OUTAGE_START, OUTAGE_END + STEP, 36),
        ("until before since: nothing", OUTAGE_END, OUTAGE_START, 0),
        (
            "window between two records: nothing",
            OUTAGE_START + timedelta(seconds=1),
            OUTAGE_START + STEP - timedelta(seconds=1),
            0,
        ),
        ("window in the future: nothing", NOW, NOW + timedelta(hours=1), 0),
        (
            "window older than the ring buffer: what is left",
            FIRST - timedelta(days=30),
            FIRST + 2 * STEP + timedelta(seconds=1),
            3,
        ),
    ],
)
def test_edge_semantics(name: str, since: datetime, until: datetime, count: int) -> None:
    registry = AranetGattRegistry()
    make_device(registry)
    samples = fetch(registry, since, until)
    assert len(samples) == count, name
    assert samples == expected(since, until)[:count]


def test_only_the_gap_is_requested_from_the_device() -> None:
    registry = AranetGattRegistry()
    device = make_device(registry)
    fetch(registry, OUTAGE_START, OUTAGE_END)
    first_index = device.total - 35  # 1-based index of 10:05 (13:00 is the newest, index total)
    assert [c[0] for c in device.commands] == [0x61] * 4
    assert {int.from_bytes(c[2:4], "little") for c in device.commands} == {first_index}


def test_ring_buffer_keeps_the_newest_2016_records() -> None:
    device = AranetGattDevice(ADDRESS)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    device.fill((t0 + k * STEP, values_at(k)) for k in range(CAPACITY + 100))
    assert device.total == CAPACITY
    assert device.records[0][0] == t0 + 100 * STEP


# -- pure pieces --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "last_seen", "first_live", "interval_s", "window"),
    [
        ("new sensor: no last reading", None, OUTAGE_END, 300, None),
        ("normal cadence", OUTAGE_START, OUTAGE_START + STEP, 300, None),
        ("one advert late, nothing missing", OUTAGE_START, OUTAGE_START + 1.9 * STEP, 300, None),
        ("clock step backwards", OUTAGE_END, OUTAGE_START, 300, None),
        (
            "one record missing",
            OUTAGE_START,
            OUTAGE_START + 2 * STEP,
            300,
            (OUTAGE_START + STEP / 2, OUTAGE_START + 1.5 * STEP),
        ),
        (
            "3-hour outage",
            OUTAGE_START,
            OUTAGE_END,
            300,
            (
                datetime(2026, 11, 28, 10, 2, 30, tzinfo=UTC),
                datetime(2026, 11, 28, 12, 57, 30, tzinfo=UTC),
            ),
        ),
        (
            "1-minute interval",
            OUTAGE_START,
            OUTAGE_START + timedelta(minutes=10),
            60,
            (OUTAGE_START + timedelta(seconds=30), OUTAGE_START + timedelta(seconds=570)),
        ),
    ],
)
def test_gap_to_backfill(
    name: str,
    last_seen: datetime | None,
    first_live: datetime,
    interval_s: float,
    window: tuple[datetime, datetime] | None,
) -> None:
    assert gap_to_backfill(last_seen, first_live, interval_s) == window, name


def test_gap_to_backfill_rejects_naive_times_and_bad_intervals() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        gap_to_backfill(datetime(2026, 1, 1), OUTAGE_END, 300)  # noqa: DTZ001
    with pytest.raises(ValueError, match="positive"):
        gap_to_backfill(OUTAGE_START, OUTAGE_END, 0)


def test_record_times_from_interval_total_and_ago() -> None:
    """Hand-computed: 3 records, 300 s apart, the newest 42 s before 13:00:42."""
    times = record_times(NOW, total=3, interval_s=300, ago_s=42)
    assert times == [OUTAGE_END - 2 * STEP, OUTAGE_END - STEP, OUTAGE_END]
    assert index_window(times, OUTAGE_END - 2 * STEP, OUTAGE_END) == range(2, 3)
    assert index_window(times, OUTAGE_END, NOW) == range(0)


# -- the bytes the emulator sends -----------------------------------------------------------


def test_v2_history_chunk_bytes_hand_computed() -> None:
    """Header <BHHHHB (param, interval, total, ago, start, count) + u16 LE values (u8 for RH)."""
    device = AranetGattDevice(ADDRESS, clock=lambda: NOW)
    device.log(OUTAGE_END - STEP, SensorValues(temperature_c=21.5, humidity_pct=45, co2_ppm=812))
    device.log(OUTAGE_END, SensorValues(temperature_c=None, humidity_pct=46, co2_ppm=None))
    # 21.5 °C × 20 = 430 = 0x01AE; "not available": bit 14 (T), bit 15 (CO2)
    assert (
        device.v2_chunk(PARAM_TEMPERATURE, 1).hex() == "012c0102002a000100" + "02" + "ae01" + "0040"
    )
    assert device.v2_chunk(PARAM_HUMIDITY, 2).hex() == "022c0102002a000200" + "01" + "2e"
    assert device.v2_chunk(PARAM_CO2, 1).hex() == "042c0102002a000100" + "02" + "2c03" + "0080"


def test_v1_notification_bytes_hand_computed() -> None:
    """<BHB (param, start, count) + values, 20-byte notifications, then a count-0 end marker."""
    device = AranetGattDevice(ADDRESS, clock=lambda: NOW)
    for k in range(10):
        device.log(FIRST + k * STEP, SensorValues(co2_ppm=500 + k))
    packets = device.v1_packets(PARAM_CO2, 1, 10)
    assert [p.hex() for p in packets] == [
        "04010008" + "".join((500 + k).to_bytes(2, "little").hex() for k in range(8)),
        "04090002" + "fc01" + "fd01",
        "040b0000",
    ]


def test_not_available_values_come_back_as_none() -> None:
    registry = AranetGattRegistry()
    device = make_device(registry)
    time, _ = device.records[-2]
    device.records[-2] = (time, SensorValues(temperature_c=21.0, humidity_pct=40.0))
    samples = fetch(registry, OUTAGE_START, OUTAGE_END)
    assert samples[-1].values == SensorValues(temperature_c=21.0, humidity_pct=40.0)


# -- faults -------------------------------------------------------------------------------


def test_refused_connections_are_retried() -> None:
    registry = AranetGattRegistry()
    device = make_device(registry, refuse_connects=2)
    assert len(fetch(registry, OUTAGE_START, OUTAGE_END, attempts=3)) == 35
    assert device.connects == 3


def test_slow_device_with_not_ready_reads_still_delivers() -> None:
    registry = AranetGattRegistry()
    make_device(registry, not_ready_reads=2, latency_s=0.001)
    assert fetch(registry, OUTAGE_START, OUTAGE_END) == expected(OUTAGE_START, OUTAGE_END)


@pytest.mark.parametrize(
    ("name", "faults", "reason", "connects"),
    [
        ("out of range", {"refuse_connects": 99}, BackfillReason.CONNECT, 3),
        (
            "link lost mid-transfer (V2)",
            {"disconnect_after_reads": 1},
            BackfillReason.DISCONNECTED,
            3,
        ),
        (
            "link lost mid-transfer (V1)",
            {"disconnect_after_reads": 2, "history_v2": False},
            BackfillReason.DISCONNECTED,
            3,
        ),
        ("truncated chunk (V2)", {"truncate_packet": 1}, BackfillReason.TRUNCATED, 3),
        (
            "truncated notification (V1)",
            {"truncate_packet": 1, "history_v2": False},
            BackfillReason.TRUNCATED,
            3,
        ),
        ("too slow", {"latency_s": 0.2}, BackfillReason.TIMEOUT, 3),
        ("never ready", {"not_ready_reads": 10_000}, BackfillReason.TIMEOUT, 3),
        ("not an Aranet4: no retry", {"name": "Aranet2 0A1B2"}, BackfillReason.NOT_ARANET4, 1),
    ],
)
def test_faults_raise_backfill_error_with_a_reason(
    name: str, faults: dict[str, object], reason: BackfillReason, connects: int
) -> None:
    registry = AranetGattRegistry()
    device = make_device(registry, **faults)
    with pytest.raises(BackfillError) as caught:
        fetch(registry, OUTAGE_START, OUTAGE_END, attempts=3, timeout_s=0.5)
    assert caught.value.reason is reason, name
    assert ADDRESS.upper() in str(caught.value)
    assert device.connects == connects


def test_unknown_device_is_a_connect_error() -> None:
    with pytest.raises(BackfillError) as caught:
        fetch(AranetGattRegistry(), OUTAGE_START, OUTAGE_END, attempts=1)
    assert caught.value.reason is BackfillReason.CONNECT
    assert "in range" in str(caught.value)


def test_naive_bounds_are_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        fetch(AranetGattRegistry(), datetime(2026, 1, 1), OUTAGE_END)  # noqa: DTZ001
