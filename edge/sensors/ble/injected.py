"""A bleak scanner backend fed by software: for tests and the simulator, where no Bluetooth
controller exists. ``BleakScanner(cb, backend=InjectedScanner, **scanner_kwargs("sim0", ...))``
delivers whatever is pushed to the "sim0" `InjectedAdapter` through bleak's normal
detection-callback API (bleak 3.x ``BaseBleakScanner`` contract: ``start``/``stop``,
``create_or_update_device``, ``call_detection_callbacks``).

As strict as the real thing (DESIGN.md "Fakes at the hardware boundary"): it refuses what
bleak's BlueZ backend and BlueZ refuse — passive scanning without ``or_patterns`` (at
construction, bleak's message), patterns BlueZ/the kernel reject (empty, longer than an AD
field, more than 16, unknown AD type: at start), passive scanning where the adapter has no
advertisement monitor API (``passive_supported=False``: bleak's UnknownMethod error), a missing
adapter (``present=False``) — and, like BlueZ, delivers to a passive scanner only the adverts
that match one of its patterns.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from bleak.args.bluez import BlueZScannerArgs, OrPatternLike
from bleak.assigned_numbers import AdvertisementDataType
from bleak.backends.scanner import AdvertisementData, AdvertisementDataCallback, BaseBleakScanner
from bleak.exc import BleakError

DEFAULT_ADAPTER = "hci0"
_NO_RSSI = -127
_MAX_PATTERNS = 16  # kernel: HCI_MAX_ADV_MONITOR_NUM_PATTERNS
_MAX_AD_LENGTH = 31  # BlueZ: BT_AD_MAX_DATA_LEN
_BASE_UUID_SUFFIX = "-0000-1000-8000-00805f9b34fb"
PASSIVE_NOT_SUPPORTED = (  # bleak's message when RegisterMonitor answers UnknownMethod
    "passive scanning on Linux requires BlueZ >= 5.56 with --experimental enabled and "
    "Linux kernel >= 5.10"
)


def _ad_fields(adv: AdvertisementData) -> list[tuple[int, bytes]]:
    """The advertisement's AD fields (type, content) as they were on the air."""
    fields: list[tuple[int, bytes]] = []
    for company_id, data in adv.manufacturer_data.items():
        content = company_id.to_bytes(2, "little") + bytes(data)
        fields.append((AdvertisementDataType.MANUFACTURER_SPECIFIC_DATA, content))
    for uuid, data in adv.service_data.items():
        u = uuid.lower()
        if u.startswith("0000") and u.endswith(_BASE_UUID_SUFFIX):
            uuid16 = int(u[4:8], 16).to_bytes(2, "little")
            fields.append((AdvertisementDataType.SERVICE_DATA_UUID16, uuid16 + bytes(data)))
        else:
            raw = bytes.fromhex(u.replace("-", ""))[::-1]
            fields.append((AdvertisementDataType.SERVICE_DATA_UUID128, raw + bytes(data)))
    if adv.local_name:
        fields.append((AdvertisementDataType.COMPLETE_LOCAL_NAME, adv.local_name.encode()))
    return fields


def matches(patterns: list[OrPatternLike], adv: AdvertisementData) -> bool:
    """BlueZ's or_patterns rule: some pattern's bytes appear at its start position in an AD
    field of its type."""
    fields = _ad_fields(adv)
    for start, ad_type, content in patterns:
        for field_type, data in fields:
            if field_type == ad_type and data[start : start + len(content)] == content:
                return True
    return False


def check_patterns(patterns: list[OrPatternLike]) -> None:
    """Raise BleakError for patterns BlueZ or the kernel would refuse."""
    if len(patterns) > _MAX_PATTERNS:
        raise BleakError(f"{len(patterns)} or_patterns: the kernel takes at most {_MAX_PATTERNS}")
    valid = {int(t) for t in AdvertisementDataType}
    for pattern in patterns:
        start, ad_type, content = pattern
        if int(ad_type) not in valid:
            raise BleakError(f"or_pattern {pattern!r}: unknown AD type {ad_type}")
        if not isinstance(content, bytes | bytearray) or not content:
            raise BleakError(f"or_pattern {pattern!r}: empty or not bytes")
        if start < 0 or start + len(content) > _MAX_AD_LENGTH:
            raise BleakError(f"or_pattern {pattern!r}: outside a {_MAX_AD_LENGTH}-byte AD field")


@dataclass
class InjectedAdapter:
    """A software Bluetooth adapter: the simulator pushes advertisements, running scanners
    on this adapter receive them. ``fail_starts`` makes the next N ``start()`` calls fail with
    a BleakError, as a locked-up BlueZ adapter does; ``present=False`` is an adapter BlueZ does
    not have; ``passive_supported=False`` a BlueZ without the advertisement monitor API;
    ``wedged`` an adapter that scans but delivers nothing (the Raspberry Pi lock-up)."""

    name: str
    fail_starts: int = 0
    starts: int = 0
    present: bool = True
    passive_supported: bool = True
    wedged: bool = False
    modes: list[str] = field(default_factory=list)
    """The scanning mode of every successful start, in order."""
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
            scanners = [] if self.wedged else list(self._scanners)
        delivered = 0
        for scanner in scanners:
            delivered += scanner.deliver_threadsafe(address, adv)
        return delivered

    @property
    def running(self) -> int:
        with self._lock:
            return len(self._scanners)

    def _attach(self, scanner: InjectedScanner) -> None:
        with self._lock:
            self.starts += 1
            if not self.present:
                raise BleakError(f"adapter '{self.name}' not found")
            if self.fail_starts > 0:
                self.fail_starts -= 1
                raise BleakError(f"injected adapter {self.name}: start failed (simulated lock-up)")
            if scanner.scanning_mode == "passive":
                if not self.passive_supported:
                    raise BleakError(PASSIVE_NOT_SUPPORTED)
                check_patterns(scanner.or_patterns)
            self._scanners.add(scanner)
            self.modes.append(scanner.scanning_mode)

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
    """bleak backend that listens to an `InjectedAdapter` (chosen by ``bluez={"adapter": …}``);
    the same constructor signature and refusals as bleak's ``BleakScannerBlueZDBus``."""

    registry: ClassVar[InjectedAdapters] = REGISTRY

    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None,
        service_uuids: list[str] | None,
        scanning_mode: Literal["active", "passive"],
        *,
        bluez: BlueZScannerArgs,
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self.scanning_mode = scanning_mode
        options: Mapping[str, Any] = bluez
        self.or_patterns: list[OrPatternLike] = list(options.get("or_patterns") or [])
        if scanning_mode == "passive" and not self.or_patterns:
            raise BleakError("passive scanning mode requires bluez or_patterns")  # as bleak
        self.adapter = self.registry.get(str(options.get("adapter", DEFAULT_ADAPTER)))
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self.seen_devices = {}
        self._loop = asyncio.get_running_loop()
        self.adapter._attach(self)

    async def stop(self) -> None:
        self.adapter._detach(self)
        self._loop = None

    def deliver_threadsafe(self, address: str, adv: AdvertisementData) -> int:
        """Hand one advert to this scanner's loop; 1 if it will be delivered, else 0 (stopped,
        or filtered out by the passive scan's patterns as BlueZ does)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return 0
        if self.scanning_mode == "passive" and not matches(self.or_patterns, adv):
            return 0
        try:
            loop.call_soon_threadsafe(self._deliver, address, adv)
        except RuntimeError:  # loop closed between the check and the call
            return 0
        return 1

    def _deliver(self, address: str, adv: AdvertisementData) -> None:
        if self._loop is None or not self.is_allowed_uuid(adv.service_uuids):
            return
        device = self.create_or_update_device(address, address, adv.local_name, None, adv)
        self.call_detection_callbacks(device, adv)
