"""How the gateway asks BlueZ to scan: passive with advertisement-monitor patterns, or active.

Passive scanning (the radio only listens; no scan requests, so battery sensors are not woken)
goes through BlueZ's advertisement monitor API (``org.bluez.AdvertisementMonitorManager1``),
which bleak's BlueZ backend drives with ``bluez={"or_patterns": [...]}``; bleak refuses
``scanning_mode="passive"`` without patterns ("passive scanning mode requires bluez
or_patterns"). The patterns are built from the configured sensor kinds: each kind's company id
(manufacturer data) or 16-bit service-data UUID, little-endian as on the air.

What passive scanning needs (bleak's BlueZ backend, https://github.com/hbldh/bleak/pull/884;
the API is still marked experimental in BlueZ): BlueZ ≥ 5.56 with its experimental interfaces
on (``bluetoothd --experimental``, or ``Experimental = true`` under ``[General]`` in
``/etc/bluetooth/main.conf``) and Linux ≥ 5.10. Check with
``busctl introspect org.bluez /org/bluez/hci0 | grep AdvertisementMonitor``. Where BlueZ lacks
it, the adapter answers RegisterMonitor with UnknownMethod; the gateway then logs that and scans
actively (``scanning = "auto"``, the default) — or refuses to start BLE (``"passive"``).
The kernel takes at most 16 patterns per monitor (``HCI_MAX_ADV_MONITOR_NUM_PATTERNS``).
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Iterable, Mapping
from typing import Any, Final, Literal

from bleak.args.bluez import BlueZScannerArgs, OrPattern
from bleak.assigned_numbers import AdvertisementDataType

from edge.config import SensorKind
from edge.sensors.ble.model import (
    ARANET_COMPANY_ID,
    BTHOME_UUID16,
    ENV_SENSING_UUID16,
    RUUVI_COMPANY_ID,
)

_LOG = logging.getLogger(__name__)

ScanningMode = Literal["passive", "active"]
MAX_PATTERNS: Final = 16
"""Linux's limit of patterns per advertisement monitor (HCI_MAX_ADV_MONITOR_NUM_PATTERNS)."""
MAX_AD_LENGTH: Final = 31
"""A legacy advertisement's data is at most 31 bytes: a pattern must fit inside one AD field."""


def _mfr(company_id: int) -> OrPattern:
    return OrPattern(
        0, AdvertisementDataType.MANUFACTURER_SPECIFIC_DATA, company_id.to_bytes(2, "little")
    )


def _svc16(uuid16: int) -> OrPattern:
    return OrPattern(0, AdvertisementDataType.SERVICE_DATA_UUID16, uuid16.to_bytes(2, "little"))


KIND_PATTERNS: Final[Mapping[SensorKind, tuple[OrPattern, ...]]] = {
    SensorKind.RUUVI: (_mfr(RUUVI_COMPANY_ID),),
    SensorKind.ARANET4: (_mfr(ARANET_COMPANY_ID),),
    SensorKind.BTHOME: (_svc16(BTHOME_UUID16),),
    SensorKind.XIAOMI_ATC: (_svc16(ENV_SENSING_UUID16),),
}
"""What each BLE sensor kind's advertisements start with (one AD field each)."""

PASSIVE_NEEDS_DA: Final = (
    "passiv scanning kræver BlueZ ≥ 5.56 med eksperimentelle funktioner slået til "
    "(Experimental = true under [General] i /etc/bluetooth/main.conf, eller bluetoothd "
    "--experimental) og Linux ≥ 5.10"
)
PASSIVE_NEEDS_EN: Final = (
    "passive scanning needs BlueZ >= 5.56 with experimental features on (Experimental = true "
    "under [General] in /etc/bluetooth/main.conf, or bluetoothd --experimental) and Linux >= "
    "5.10; check with `busctl introspect org.bluez /org/bluez/hci0 | grep AdvertisementMonitor`"
)


MIN_PASSIVE_BLUEZ: Final = (5, 56)


def parse_version(text: str | None) -> tuple[int, int] | None:
    """``5.66`` → (5, 66); None when it is not a version."""
    if text is None:
        return None
    major, _, minor = text.strip().partition(".")
    if not (major.isdigit() and minor[:2].strip(".").isdigit()):
        return None
    return int(major), int("".join(c for c in minor if c.isdigit())[:3] or 0)


def passive_hint(version: str | None) -> tuple[str, str]:
    """Why passive scanning failed on this BlueZ, and the fix (Danish, English)."""
    parsed = parse_version(version)
    if parsed is not None and parsed < MIN_PASSIVE_BLUEZ:
        return (
            f"BlueZ {version} er for gammel: {PASSIVE_NEEDS_DA} (Debian 12 har 5.66)",
            f"BlueZ {version} is too old: {PASSIVE_NEEDS_EN} (Debian 12 has 5.66)",
        )
    what = f"BlueZ {version}" if version else "BlueZ (version unknown: no bluetoothctl)"
    return (
        f"{what} har ikke advertisement monitor-API'et slået til: {PASSIVE_NEEDS_DA}",
        f"{what} has the advertisement monitor API switched off: {PASSIVE_NEEDS_EN}",
    )


def or_patterns(kinds: Iterable[SensorKind]) -> list[OrPattern]:
    """The advertisement-monitor patterns that match every configured BLE sensor kind."""
    patterns = {p for kind in kinds for p in KIND_PATTERNS.get(SensorKind(kind), ())}
    ordered = sorted(patterns, key=lambda p: (int(p.ad_data_type), p.content_of_pattern))
    if len(ordered) > MAX_PATTERNS:  # cannot happen with four kinds; guards future additions
        raise ValueError(f"{len(ordered)} scan patterns; the kernel takes at most {MAX_PATTERNS}")
    return ordered


def scanner_kwargs(adapter: str, mode: ScanningMode, kinds: Iterable[SensorKind]) -> dict[str, Any]:
    """Exactly the keyword arguments the gateway gives `bleak.BleakScanner` (besides the
    callback and backend), for ``mode``."""
    bluez = BlueZScannerArgs(adapter=adapter)
    if mode == "passive":
        bluez["or_patterns"] = list(or_patterns(kinds))
    return {"scanning_mode": mode, "bluez": bluez}


def passive_unsupported(exc: BaseException) -> bool:
    """True for bleak's error when BlueZ has no advertisement monitor API (RegisterMonitor
    answered UnknownMethod): BlueZ too old, or experimental features off."""
    from bleak.exc import BleakError

    text = str(exc)
    return isinstance(exc, BleakError) and "passive scanning" in text and "BlueZ" in text


def unavailable_reason(exc: BaseException, adapter: str) -> str:
    """Why Bluetooth is unavailable, in words a technician can act on (English; the log line
    around it carries the Danish)."""
    from bleak.exc import BleakBluetoothNotAvailableError, BleakError

    if isinstance(exc, FileNotFoundError | ConnectionRefusedError):
        return (
            "no D-Bus system bus / BlueZ here (apt-get install bluez; systemctl start "
            f"bluetooth): {exc}"
        )
    if isinstance(exc, PermissionError):
        return f"no permission to talk to BlueZ (is the user in group bluetooth?): {exc}"
    if isinstance(exc, BleakBluetoothNotAvailableError):
        return f"Bluetooth not available ({exc.reason.name.lower()}): {exc.args[0]}"
    if isinstance(exc, BleakError) and "not found" in str(exc):
        return f"{exc} — check `bluetoothctl list` and the adapter setting (now {adapter})"
    return f"{type(exc).__name__}: {exc}"


async def bluez_version(timeout_s: float = 5.0) -> str | None:
    """BlueZ's version from ``bluetoothctl --version`` (``5.66``), or None where it is not
    installed or does not answer in time."""
    exe = shutil.which("bluetoothctl")
    if exe is None:
        return None
    try:
        proc = await asyncio.create_subprocess_exec(
            exe,
            "--version",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
    except OSError:
        return None
    try:
        async with asyncio.timeout(timeout_s):
            out, _ = await proc.communicate()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return None
    words = out.decode(errors="replace").split()
    return words[-1] if words else None
