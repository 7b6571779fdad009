"""After a gap — the gateway down, or the device out of range — the gateway fills each
Aranet4's gap from the device's own history (GATT), between the last live reading before it and
the first after it, exclusive: every measurement is stored once, with one time, on the device's
measurement grid. The clock has sub-second parts (as a real one does) and live adverts keep
arriving while the history downloads."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cloud.servers import free_port
from edge.config import GatewayConfig
from edge.outbox import Outbox
from edge.runner import run_gateway
from edge.sensors.ble.injected import REGISTRY, InjectedScanner
from edge.sensors.model import SensorValues
from edge.wire import Reading, decode_batch
from firmware_sim.devices import ble as emu
from firmware_sim.devices.aranet_gatt import AranetGattDevice, AranetGattRegistry

ADDRESS = "D0:1F:00:00:0A:01"
ADAPTER = "bf-grid"
STEP = timedelta(minutes=5)
GRID0 = datetime(2026, 11, 28, 7, 0, 3, 417_000, tzinfo=UTC)
"""When the device measures: every 5 min from here — a phase no clock rounding lands on."""


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def values(k: int) -> SensorValues:
    return SensorValues(
        co2_ppm=float(500 + k), temperature_c=21.0, humidity_pct=40.0, pressure_hpa=1000.0
    )


def config(tmp_path: Path) -> GatewayConfig:
    return GatewayConfig.parse(
        {
            "gateway_id": "gw-bf",
            "mqtt": {"url": f"mqtt://127.0.0.1:{free_port()}"},  # broker down: only the outbox
            "outbox": {"path": str(tmp_path / "outbox.sqlite")},
            "sensors": [
                {
                    "id": "aranet-1",
                    "kind": "aranet4",
                    "building": "B1",
                    "flat": "F1",
                    "room": "living",
                    "address": ADDRESS,
                    "expected_interval_s": 300,
                }
            ],
        }
    )


def stored_times(path: Path) -> list[int]:
    with Outbox(path, "gw-bf") as outbox:
        batch = outbox.next_batch(5000)
    assert batch is not None
    return sorted(r.time_ms for r in decode_batch(batch.message("gw-bf")).readings)


async def settle(n: int = 20) -> None:
    for _ in range(n):
        await asyncio.sleep(0.01)


def test_gaps_are_backfilled_once_on_the_device_grid(tmp_path: Path) -> None:
    """Live for 3 records; away 1 h (device out of range); live for 2; gateway keeps running;
    away 40 min; live for 3 more, adverts interleaved with the downloads. Every one of the
    records from the first live one to the last is stored exactly once, at its grid time."""
    cfg = config(tmp_path)
    clock = Clock(GRID0)
    registry = AranetGattRegistry()
    device = registry.add(AranetGattDevice(ADDRESS, clock=clock, latency_s=0.002))
    adapter = REGISTRY.get(ADAPTER)
    away = {3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 17, 18, 19, 20, 21, 22, 23, 24}
    last = 27

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(
            run_gateway(
                cfg,
                stop,
                ble_backend=InjectedScanner,
                ble_adapter=ADAPTER,
                ble_client_backend=registry.client_backend(),
                clock=clock,
            )
        )
        while adapter.running == 0:
            await asyncio.sleep(0.01)
        for k in range(last + 1):
            measured = GRID0 + k * STEP
            device.log(measured, values(k))
            if k in away:
                continue
            # each measurement advertised several times, each with its whole-second age and a
            # clock with sub-second parts (0.48 s, 41.93 s and 133.2 s after the measurement)
            for after_s in (0.48, 41.93, 133.2):
                clock.now = measured + timedelta(seconds=after_s)
                age = int(after_s)
                adapter.push(
                    ADDRESS,
                    -70,
                    {0x0702: emu.aranet4(500 + k, 21.0, 40, 1000.0, 87, interval_s=300, ago_s=age)},
                )
                await settle(3)  # downloads run meanwhile (GATT latency): interleaved
        clock.now = GRID0 + last * STEP + timedelta(seconds=150.25)
        for _ in range(300):  # both downloads done: every record in the outbox
            await asyncio.sleep(0.02)
            with Outbox(cfg.outbox.path, "gw-bf") as peek:
                if peek.added >= last + 1:
                    break
        await settle()
        stop.set()
        await task

    try:
        asyncio.run(scenario())
    finally:
        REGISTRY.remove(ADAPTER)
    times = stored_times(cfg.outbox.path)
    # the grid's phase is the first estimate (07:00:03.417 + 0.48 s) in whole seconds: 07:00:04
    phase = datetime(2026, 11, 28, 7, 0, 4, tzinfo=UTC)
    expected = [int((phase + k * STEP).timestamp()) * 1000 for k in range(last + 1)]
    assert times == expected, [t - expected[0] for t in times]
    assert device.connects == 2  # one download per gap


def test_gap_while_the_gateway_was_down_is_backfilled_from_the_last_stored_reading(
    tmp_path: Path,
) -> None:
    """The outbox remembers the last reading before the gateway died; the first live advert
    after the restart starts the backfill of the 3 h between — 35 records, none twice."""
    cfg = config(tmp_path)
    last_before = GRID0.replace(microsecond=0)  # as stored by the gateway before it died
    with Outbox(cfg.outbox.path, "gw-bf") as outbox:
        outbox.add(
            [
                Reading(
                    time_ms=int(last_before.timestamp() * 1000),
                    building="B1",
                    flat="F1",
                    room="living",
                    sensor="aranet-1",
                    values={"co2_ppm": 700.0},
                )
            ]
        )
    back = GRID0 + 36 * STEP  # 3 h later
    clock = Clock(back + timedelta(seconds=7.861))
    registry = AranetGattRegistry()
    device = registry.add(AranetGattDevice(ADDRESS, clock=clock))
    for k in range(-12, 37):
        device.log(GRID0 + k * STEP, values(k))
    adapter = REGISTRY.get(ADAPTER)

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(
            run_gateway(
                cfg,
                stop,
                ble_backend=InjectedScanner,
                ble_adapter=ADAPTER,
                ble_client_backend=registry.client_backend(),
                clock=clock,
            )
        )
        while adapter.running == 0:
            await asyncio.sleep(0.01)
        adapter.push(
            ADDRESS, -70, {0x0702: emu.aranet4(536, 21.0, 40, 1000.0, 87, interval_s=300, ago_s=7)}
        )
        for _ in range(300):
            await asyncio.sleep(0.02)
            with Outbox(cfg.outbox.path, "gw-bf") as peek:
                if peek.added >= 37:
                    break
        stop.set()
        await task

    try:
        asyncio.run(scenario())
    finally:
        REGISTRY.remove(ADAPTER)
    times = stored_times(cfg.outbox.path)
    assert times == [int((last_before + k * STEP).timestamp()) * 1000 for k in range(37)]
