"""The vendors' own bytes travel the whole path on real parts:

BLE advert bytes (injected bleak backend) and Modbus frames (real pty) → gateway drivers →
outbox → real Mosquitto → ingest → store, and the stored values are the published ones.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cloud.deadletter import DeadLetters
from cloud.ingest import Ingest
from cloud.registry import Registry
from cloud.servers import MosquittoServer
from cloud.store.base import CLIMATE
from cloud.store.sqlite import SqliteStore
from edge.config import GatewayConfig
from edge.runner import run_gateway
from edge.sensors.ble.injected import REGISTRY, InjectedScanner
from firmware_sim.devices.serial_responders import ModbusResponder, Scd30Emulator

pytestmark = pytest.mark.servers

# docs.ruuvi.com, "Data format 5 (RAWv2)", test vector "valid"
RUUVI_DF5_VALID = bytes.fromhex("0512FC5394C37C0004FFFC040CAC364200CDCBB8334C884F")
RUUVI_MAC = "CB:B8:33:4C:88:4F"
# bthome.io/format example: temperature 25.06 °C, humidity 50.55 %
BTHOME_TEMP_HUM = bytes.fromhex("4002ca0903bf13")
BTHOME_MAC = "A4:C1:38:00:00:01"
BTHOME_UUID = "0000fcd2-0000-1000-8000-00805f9b34fb"

REG = Registry.model_validate(
    {
        "buildings": [{"id": "B1", "flats": [{"id": "F1", "area_m2": 55.0}]}],
        "gateways": [{"id": "gw-e2e", "building": "B1", "flats": ["F1"]}],
    }
)


def test_vendor_bytes_reach_the_store(tmp_path: Path, mosquitto: MosquittoServer) -> None:
    scd30_values = {"co2_ppm": 812.5, "temperature_c": 21.25, "humidity_pct": 44.5}
    with ModbusResponder([Scd30Emulator(lambda: scd30_values)]) as responder:
        config = GatewayConfig.parse(
            {
                "gateway_id": "gw-e2e",
                "mqtt": {"url": mosquitto.url},
                "outbox": {"path": str(tmp_path / "outbox.sqlite"), "batch_max_age_s": 0.1},
                "sensors": [
                    {
                        "id": "ruuvi-1",
                        "kind": "ruuvi",
                        "building": "B1",
                        "flat": "F1",
                        "room": "bedroom",
                        "address": RUUVI_MAC,
                    },
                    {
                        "id": "bthome-1",
                        "kind": "bthome",
                        "building": "B1",
                        "flat": "F1",
                        "room": "bath",
                        "address": BTHOME_MAC,
                    },
                    {
                        "id": "scd30-1",
                        "kind": "scd30",
                        "building": "B1",
                        "flat": "F1",
                        "room": "living",
                        "port": responder.port,
                        "poll_interval_s": 0.5,
                    },
                ],
            }
        )
        store = SqliteStore(tmp_path / "store.sqlite")
        with (
            closing(store),
            DeadLetters(tmp_path / "dead.sqlite") as dead,
            Ingest(store, REG, dead, mqtt_url=mosquitto.url, client_id="e2e-ingest"),
        ):

            async def scenario() -> None:
                stop = asyncio.Event()
                task = asyncio.create_task(
                    run_gateway(config, stop, ble_backend=InjectedScanner, ble_adapter="e2e")
                )
                adapter = REGISTRY.get("e2e")
                deadline = time.monotonic() + 20
                while adapter.running == 0 and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
                adapter.push(RUUVI_MAC, -60, {0x0499: RUUVI_DF5_VALID}, {})
                adapter.push(BTHOME_MAC, -70, {}, {BTHOME_UUID: BTHOME_TEMP_HUM})
                adapter.push("11:22:33:44:55:66", -80, {0x0499: RUUVI_DF5_VALID}, {})  # unknown
                while store.count(CLIMATE) < 3 and time.monotonic() < deadline:
                    await asyncio.sleep(0.1)
                await asyncio.sleep(1.0)  # the gateway commits and the acks come back
                stop.set()
                gateway = await task
                assert gateway.outbox.added >= 3  # more SCD30 polls may still be unconfirmed

            asyncio.run(scenario())
            REGISTRY.remove("e2e")
            frame = store.query(
                CLIMATE, datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
            )
    by_sensor = {s: g.iloc[0] for s, g in frame.groupby("sensor")}
    assert set(by_sensor) == {"ruuvi-1", "bthome-1", "scd30-1"}
    ruuvi = by_sensor["ruuvi-1"]
    assert ruuvi["temperature_c"] == pytest.approx(24.3, abs=0.005)
    assert ruuvi["humidity_pct"] == pytest.approx(53.49, abs=0.005)
    assert ruuvi["pressure_hpa"] == pytest.approx(1000.44, abs=0.01)
    assert ruuvi["battery_mv"] == pytest.approx(2977)
    assert by_sensor["bthome-1"]["temperature_c"] == pytest.approx(25.06)
    assert by_sensor["bthome-1"]["humidity_pct"] == pytest.approx(50.55)
    scd = by_sensor["scd30-1"]
    assert scd["co2_ppm"] == pytest.approx(812.5, abs=0.01)
    assert scd["temperature_c"] == pytest.approx(21.25, abs=0.01)
    assert (frame["flat"] == "F1").all() and (frame["building"] == "B1").all()
    assert (frame["gateway"] == "gw-e2e").all(), "ingest tags each reading with its gateway"
    assert not (frame["sensor"] == "11:22:33:44:55:66").any()
