"""A scenario's devices on the air and on the wire: one emulator per sensor.

BLE sensors become `BleAdvertiser`s whose payload is re-encoded from the simulator's true values
each time they measure; serial sensors get a responder on a real pty each. `gateway_sensors`
says where each device is, in the shape of the gateway config's ``[[sensors]]`` tables — the
simulator speaks wire formats, it never imports the gateway.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from firmware_sim.devices import ble
from firmware_sim.devices.closeable import Closeable
from firmware_sim.devices.serial_pty import PtyResponder
from firmware_sim.devices.serial_responders import (
    Mhz19bResponder,
    ModbusResponder,
    Scd30Emulator,
    SenseairS8Emulator,
)
from firmware_sim.scenario import Scenario, SensorKind

NOISE_SD: Final[Mapping[str, float]] = {
    "temperature_c": 0.03,
    "humidity_pct": 0.15,
    "pressure_hpa": 0.05,
    "co2_ppm": 4.0,
}
"""Measurement noise (standard deviation) a real sensor shows at rest — of the order of the
repeatability in the Sensirion SHT4x/SCD30 and Bosch BME280 datasheets. Without it a steady
simulated room repeats the same value and the gateway rightly flags the sensor as stuck."""

BLE_KINDS = frozenset(
    {SensorKind.RUUVI, SensorKind.ARANET4, SensorKind.BTHOME, SensorKind.XIAOMI_ATC}
)


def _battery_pct(battery_mv: float) -> int:
    """Coin cell 2.0–3.0 V mapped linearly to 0–100 % (a rough, common approximation)."""
    return int(max(0.0, min(100.0, (battery_mv - 2000.0) / 10.0)))


def encode_advert(
    kind: SensorKind, values: Mapping[str, float], mac: str, counter: int
) -> tuple[dict[int, bytes], dict[str, bytes]]:
    """(manufacturer data, service data) a real device of this kind sends for these values."""
    t = values.get("temperature_c")
    rh = values.get("humidity_pct")
    mv = values.get("battery_mv", 3000.0)
    if kind is SensorKind.RUUVI:
        payload = ble.ruuvi_df5(t, rh, values.get("pressure_hpa"), mv, counter % 65535, mac)
        return {0x0499: payload}, {}
    if kind is SensorKind.ARANET4:
        co2 = values.get("co2_ppm")
        payload = ble.aranet4(
            None if co2 is None else round(co2),
            t,
            None if rh is None else round(rh),
            values.get("pressure_hpa"),
            _battery_pct(mv),
            counter=counter % 65536,
        )
        return {0x0702: payload}, {}
    if kind is SensorKind.BTHOME:
        objects = {
            k: v
            for k, v in values.items()
            if k in ("temperature_c", "humidity_pct", "co2_ppm", "battery_mv")
        }
        payload = ble.bthome_v2(objects, packet_id=counter % 256)
        return {}, {"0000fcd2-0000-1000-8000-00805f9b34fb": payload}
    if kind is SensorKind.XIAOMI_ATC:
        payload = ble.pvvx(t or 0.0, rh or 0.0, _battery_pct(mv), round(mv), counter % 256, mac)
        return {}, {"0000181a-0000-1000-8000-00805f9b34fb": payload}
    raise ValueError(f"{kind} is not a BLE sensor")


@dataclass
class _Device:
    sensor_id: str
    kind: SensorKind
    interval_s: float
    next_due: float = 0.0
    counter: int = 0
    values: dict[str, float] = field(default_factory=dict)
    advertiser: ble.BleAdvertiser | None = None
    responder: PtyResponder | None = None
    port: str | None = None
    modbus_address: int | None = None


class DeviceFleet(Closeable):
    """All devices of one scenario; ``close()`` stops every responder (safe twice)."""

    def __init__(self, scenario: Scenario, *, seed: int = 0) -> None:
        self.scenario = scenario
        self._rng = random.Random(seed)
        self.devices: dict[str, _Device] = {}
        self._placement: dict[str, tuple[str, str, str]] = {}
        try:
            for sensor_id, flat, room, spec in scenario.sensors():
                device = _Device(sensor_id, spec.kind, spec.interval_s)
                self._placement[sensor_id] = (scenario.building.id, flat.id, room.name)
                if spec.kind in BLE_KINDS:
                    assert spec.address is not None
                    device.advertiser = ble.BleAdvertiser(spec.address)
                else:
                    device.modbus_address = spec.modbus_address
                    device.responder = self._responder(device)
                    device.port = device.responder.port
                self.devices[sensor_id] = device
        except BaseException:
            self.close()
            raise

    def _responder(self, device: _Device) -> PtyResponder:
        def values() -> dict[str, float]:
            return device.values

        if device.kind is SensorKind.SCD30:
            return ModbusResponder([Scd30Emulator(values, device.modbus_address or 0x61)])
        if device.kind is SensorKind.SENSEAIR_S8:
            return ModbusResponder([SenseairS8Emulator(values, device.modbus_address or 0xFE)])
        return Mhz19bResponder(values)

    def gateway_sensors(self) -> list[dict[str, Any]]:
        """``[[sensors]]`` entries for the gateway config."""
        out: list[dict[str, Any]] = []
        for sensor_id, device in self.devices.items():
            building, flat, room = self._placement[sensor_id]
            entry: dict[str, Any] = {
                "id": sensor_id,
                "kind": str(device.kind),
                "building": building,
                "flat": flat,
                "room": room,
                "expected_interval_s": device.interval_s,
                "poll_interval_s": device.interval_s,
            }
            if device.advertiser is not None:
                entry["address"] = device.advertiser.address
            else:
                entry["port"] = device.port
                if device.modbus_address is not None:
                    entry["modbus_address"] = device.modbus_address
            out.append(entry)
        return out

    def measure(self, truth: Mapping[str, Mapping[str, float]], now: datetime) -> list[str]:
        """Devices whose measurement is due take the true values now; returns their ids.
        BLE devices re-encode their advert; serial devices answer the next poll with them."""
        t = now.timestamp()
        due = []
        for sensor_id, device in self.devices.items():
            if t < device.next_due:
                continue
            device.next_due = (device.next_due or t) + device.interval_s
            if device.next_due <= t:
                device.next_due = t + device.interval_s
            device.counter += 1
            device.values = {
                q: v + self._rng.gauss(0.0, NOISE_SD[q]) if q in NOISE_SD else v
                for q, v in truth[sensor_id].items()
            }
            if device.advertiser is not None:
                manufacturer, service = encode_advert(
                    device.kind, device.values, device.advertiser.address, device.counter
                )
                device.advertiser.manufacturer_data = manufacturer
                device.advertiser.service_data = service
            due.append(sensor_id)
        return due

    def close(self) -> None:
        for device in self.devices.values():
            if device.responder is not None:
                device.responder.close()
