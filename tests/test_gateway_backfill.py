"""After an outage the gateway fills each Aranet4's gap from the device's own history (GATT),
between its last committed reading and now — exclusive, so nothing is doubled."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

from cloud.servers import free_port
from edge.config import GatewayConfig
from edge.outbox import Outbox
from edge.runner import run_gateway
from edge.sensors.ble.injected import InjectedScanner
from edge.sensors.model import SensorValues
from edge.wire import Reading, decode_batch
from firmware_sim.devices.aranet_gatt import AranetGattDevice, AranetGattRegistry

ADDRESS = "D0:1F:00:00:0A:01"
STEP = timedelta(minutes=5)


def test_gateway_backfills_the_outage_from_aranet4_history(tmp_path: Path) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    last_before_outage = now - timedelta(hours=3)
    config = GatewayConfig.parse(
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
    with Outbox(config.outbox.path, "gw-bf") as outbox:  # what the gateway had before it died
        outbox.add(
            [
                Reading(
                    time_ms=int(last_before_outage.timestamp() * 1000),
                    building="B1",
                    flat="F1",
                    room="living",
                    sensor="aranet-1",
                    values={"co2_ppm": 700.0},
                )
            ]
        )
    registry = AranetGattRegistry()
    device = registry.add(AranetGattDevice(ADDRESS, clock=lambda: now))
    t = last_before_outage - timedelta(hours=1)
    k = 0
    while t <= now - timedelta(seconds=30):
        device.log(
            t,
            SensorValues(
                co2_ppm=float(500 + k), temperature_c=21.0, humidity_pct=40.0, pressure_hpa=1000.0
            ),
        )
        t += STEP
        k += 1

    async def scenario() -> int:
        stop = asyncio.Event()
        task = asyncio.create_task(
            run_gateway(
                config,
                stop,
                ble_backend=InjectedScanner,
                ble_adapter="bf",
                ble_client_backend=registry.client_backend(),
                clock=lambda: now,
            )
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            with Outbox(config.outbox.path, "gw-bf") as peek:
                if peek.added > 1:
                    break
        await asyncio.sleep(0.5)
        stop.set()
        gateway = await task
        return gateway.outbox.added

    added = asyncio.run(scenario())
    with Outbox(config.outbox.path, "gw-bf") as outbox:
        batch = outbox.next_batch(5000)
    assert batch is not None
    times = sorted(r.time_ms for r in decode_batch(batch.message("gw-bf")).readings)
    gap = [t for t in times if t > last_before_outage.timestamp() * 1000]
    # every record strictly between the last reading and now, once: 3 h at 5 min, minus edges
    assert len(gap) == len(set(gap)) == 35, gap
    assert added == 36
    assert all(b - a == 300_000 for a, b in pairwise(gap))
