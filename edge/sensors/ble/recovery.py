"""Bounded, capped, jittered retry for a BLE adapter that will not start scanning, with an
optional adapter reset through `bluetooth-auto-recovery` (the library Home Assistant uses to
unstick BlueZ adapters on Raspberry Pis: https://github.com/Bluetooth-Devices/bluetooth-auto-recovery).
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import sys
from pathlib import Path
from typing import Protocol

_LOG = logging.getLogger(__name__)


class AdapterRecovery(Protocol):
    """Reset an adapter by name (``hci0``); True when the reset worked. ``gone_silent``: it
    scans but delivers nothing — a power cycle is not enough, escalate to a USB reset."""

    async def __call__(self, adapter: str, *, gone_silent: bool = False) -> bool: ...


def backoff_delays(
    attempts: int, initial_s: float, max_s: float, rng: random.Random | None = None
) -> list[float]:
    """Exponential backoff, capped at ``max_s``, with "full jitter" (uniform 0..cap), as in
    AWS Architecture Blog "Exponential Backoff And Jitter" (Brooker, 2015)."""
    r = rng or random.Random()
    return [r.uniform(0.0, min(max_s, initial_s * 2**i)) for i in range(attempts)]


def retryable_errors() -> tuple[type[BaseException], ...]:
    """What a scanner start/stop raises when the adapter or BlueZ misbehaves."""
    from bleak.exc import BleakError

    errors: list[type[BaseException]] = [BleakError, OSError, TimeoutError]
    try:
        from dbus_fast import DBusError
    except ImportError:  # not on Linux
        pass
    else:
        errors.append(DBusError)
    return tuple(errors)


def _adapter_mac(adapter: str) -> str:
    return Path(f"/sys/class/bluetooth/{adapter}/address").read_text(encoding="ascii").strip()


async def recover_linux_adapter(adapter: str, *, gone_silent: bool = False) -> bool:
    """Reset a real BlueZ adapter with `bluetooth_auto_recovery.recover_adapter`: rfkill
    unblock, power cycle over the HCI management socket, and — when it has ``gone_silent`` —
    a USB reset of a USB adapter.

    Returns False (and logs why) where that is impossible: not Linux, the library is not
    installed, or the adapter name/address cannot be found in /sys/class/bluetooth.
    """
    if not sys.platform.startswith("linux"):
        return False
    match = re.fullmatch(r"hci(\d+)", adapter)
    if match is None:
        _LOG.warning("cannot reset adapter %r: not an hciN name", adapter)
        return False
    try:
        from bluetooth_auto_recovery import recover_adapter
    except ImportError:
        _LOG.warning("bluetooth-auto-recovery is not installed; cannot reset %s", adapter)
        return False
    try:
        mac = await asyncio.to_thread(_adapter_mac, adapter)
    except OSError:
        _LOG.warning("adapter %s not found in /sys/class/bluetooth; cannot reset it", adapter)
        return False
    try:
        return bool(await recover_adapter(int(match.group(1)), mac.upper(), gone_silent))
    except Exception:
        _LOG.warning("resetting adapter %s failed", adapter, exc_info=True)
        return False
