"""A bleak scanner backend fed by software: for tests and the simulator, where no Bluetooth
controller exists. ``BleakScanner(cb, backend=InjectedScanner, scanning_mode="passive",
bluez={"adapter": "sim0"})`` delivers whatever is pushed to the "sim0" `InjectedAdapter`
through bleak's normal detection-callback API (bleak 3.x ``BaseBleakScanner`` contract:
``start``/``stop``, ``create_or_update_device``, ``call_detection_callbacks``).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from bleak.backends.scanner import AdvertisementData, AdvertisementDataCallback, BaseBleakScanner
from bleak.exc import BleakError

DEFAULT_ADAPTER = "hci0"
_NO_RSSI = -127


@dataclass
class InjectedAdapter:
    """A software Bluetooth adapter: the simulator pushes advertisements, running scanners
    on this adapter receive them. ``fail_starts`` makes the next N ``start()`` calls fail with
    a BleakError, as a locked-up BlueZ adapter does."""

    name: str
    fail_starts: int = 0
    starts: int = 0
    _scanners: set[InjectedScanner] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def push(
        self,
        address: str,
        rssi: int | None = None,
        manufacturer_data: Mapping[int, bytes] | None = None,
        service_data: Mapping[str, bytes] | None = None,
        local_name: str | None = None,
    ) -> int:
        """Deliver one advertisement to every running scanner; safe from any thread.
        Returns how many scanners it was handed to."""
        adv = AdvertisementData(
            local_name=local_name,
            manufacturer_data=dict(manufacturer_data or {}),
            service_data=dict(service_data or {}),
            service_uuids=list(service_data or {}),
            tx_power=None,
            rssi=rssi if rssi is not None else _NO_RSSI,
            platform_data=(),
        )
        with self._lock:
            scanners = list(self._scanners)
        for scanner in scanners:
            scanner.deliver_threadsafe(address, adv)
        return len(scanners)

    @property
    def running(self) -> int:
        with self._lock:
            return len(self._scanners)

    def _attach(self, scanner: InjectedScanner) -> None:
        with self._lock:
            self.starts += 1
            if self.fail_starts > 0:
                self.fail_starts -= 1
                raise BleakError(f"injected adapter {self.name}: start failed (simulated lock-up)")
            self._scanners.add(scanner)

    def _detach(self, scanner: InjectedScanner) -> None:
        with self._lock:
            self._scanners.discard(scanner)


class InjectedAdapters:
    """Registry of software adapters by name. Tests use their own instance or `REGISTRY`."""

    def __init__(self) -> None:
        self._adapters: dict[str, InjectedAdapter] = {}
        self._lock = threading.Lock()

    def get(self, name: str = DEFAULT_ADAPTER) -> InjectedAdapter:
        with self._lock:
            adapter = self._adapters.get(name)
            if adapter is None:
                adapter = self._adapters[name] = InjectedAdapter(name)
            return adapter

    def remove(self, name: str) -> None:
        with self._lock:
            self._adapters.pop(name, None)


REGISTRY = InjectedAdapters()


class InjectedScanner(BaseBleakScanner):
    """bleak backend that listens to an `InjectedAdapter` (chosen by ``bluez={"adapter": …}``)."""

    registry: ClassVar[InjectedAdapters] = REGISTRY

    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None,
        service_uuids: list[str] | None,
        scanning_mode: Literal["active", "passive"],
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self.scanning_mode = scanning_mode
        bluez: Mapping[str, Any] = kwargs.get("bluez") or {}
        self.adapter = self.registry.get(str(bluez.get("adapter", DEFAULT_ADAPTER)))
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self.seen_devices = {}
        self._loop = asyncio.get_running_loop()
        self.adapter._attach(self)

    async def stop(self) -> None:
        self.adapter._detach(self)
        self._loop = None

    def deliver_threadsafe(self, address: str, adv: AdvertisementData) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(self._deliver, address, adv)
        except RuntimeError:  # loop closed between the check and the call
            return

    def _deliver(self, address: str, adv: AdvertisementData) -> None:
        if self._loop is None or not self.is_allowed_uuid(adv.service_uuids):
            return
        device = self.create_or_update_device(address, address, adv.local_name, None, adv)
        self.call_detection_callbacks(device, adv)
