"""Commissioning scan: listen for a while and report every sensor-format device.

Passive with the advertisement-monitor patterns of every supported kind where BlueZ can, else
active (said on stderr by the CLI); `ScanUnavailable` with the reason where Bluetooth cannot be
used at all (no adapter, no D-Bus/BlueZ)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from bleak import BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner

from edge.sensors.ble.dispatch import decode
from edge.sensors.ble.model import BleFormat, Decoded, DecodeError, RawAdvert
from edge.sensors.ble.recovery import retryable_errors
from edge.sensors.ble.scanning import (
    KIND_PATTERNS,
    PASSIVE_NEEDS_EN,
    ScanningMode,
    passive_unsupported,
    scanner_kwargs,
    unavailable_reason,
)
from edge.sensors.model import SensorValues


class ScanUnavailable(RuntimeError):
    """Bluetooth cannot be used here; the message says why and what to do."""


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
    on_fallback: Callable[[str], None] | None = None,
) -> list[ScanResult]:
    """Scan for ``duration_s`` and return one result per device, strongest first.

    Devices that speak none of our formats are left out unless ``include_unsupported`` (which
    needs an active scan: passive patterns only let our formats through). ``on_fallback`` hears
    why the scan is active. Raises `ScanUnavailable` when Bluetooth cannot be used.
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

    mode: ScanningMode = "active" if include_unsupported else "passive"
    scanner = BleakScanner(
        on_advert, backend=backend, **scanner_kwargs(adapter, mode, KIND_PATTERNS)
    )
    try:
        try:
            await scanner.start()
        except retryable_errors() as exc:
            if mode != "passive" or not passive_unsupported(exc):
                raise
            if on_fallback is not None:
                on_fallback(PASSIVE_NEEDS_EN)
            scanner = BleakScanner(
                on_advert, backend=backend, **scanner_kwargs(adapter, "active", KIND_PATTERNS)
            )
            await scanner.start()
    except retryable_errors() as exc:
        raise ScanUnavailable(unavailable_reason(exc, adapter)) from exc
    try:
        await asyncio.sleep(duration_s)
    finally:
        try:
            await scanner.stop()
        except retryable_errors():
            pass  # the adapter went away mid-scan: what was heard is still reported
    return sorted(seen.values(), key=lambda r: -(r.rssi if r.rssi is not None else -999))
