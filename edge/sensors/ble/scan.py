"""Commissioning scan: listen passively for a while and report every sensor-format device."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from bleak import BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner

from edge.sensors.ble.dispatch import decode
from edge.sensors.ble.model import BleFormat, Decoded, DecodeError, RawAdvert
from edge.sensors.model import SensorValues


@dataclass(frozen=True, slots=True)
class ScanResult:
    """The last advertisement heard from one device during the scan."""

    address: str
    rssi: int | None
    format: BleFormat | None
    values: SensorValues | None
    reason: str | None
    """Why nothing was decoded (e.g. Aranet4 Smart Home integrations off)."""
    local_name: str | None = None


async def scan(
    duration_s: float,
    backend: type[BaseBleakScanner] | None = None,
    *,
    adapter: str = "hci0",
    include_unsupported: bool = False,
) -> list[ScanResult]:
    """Scan passively for ``duration_s`` and return one result per device, strongest first.

    Devices that speak none of our formats are left out unless ``include_unsupported``.
    """
    seen: dict[str, ScanResult] = {}

    def on_advert(device: BLEDevice, adv: AdvertisementData) -> None:
        advert = RawAdvert(
            device.address, adv.rssi, adv.manufacturer_data, adv.service_data, adv.local_name
        )
        result = decode(advert)
        if isinstance(result, Decoded):
            seen[device.address] = ScanResult(
                device.address, adv.rssi, result.format, result.values, None, adv.local_name
            )
        elif isinstance(result, DecodeError) and (result.format is not None or include_unsupported):
            previous = seen.get(device.address)
            if previous is None or previous.values is None:
                seen[device.address] = ScanResult(
                    device.address, adv.rssi, result.format, None, result.message, adv.local_name
                )

    async with BleakScanner(
        on_advert, scanning_mode="passive", bluez={"adapter": adapter}, backend=backend
    ):
        await asyncio.sleep(duration_s)
    return sorted(seen.values(), key=lambda r: -(r.rssi if r.rssi is not None else -999))
