"""An emulated Aranet4 GATT server: the history download as the real device answers it.

There is no Bluetooth controller in tests or the simulator, so the hardware boundary is a bleak
client backend: ``BleakClient(address, backend=registry.client_backend())`` talks to the
`AranetGattDevice` registered under that address instead of BlueZ.

Protocol (Aranet4 firmware ≥ v1.2, service 0xFCE0; UUIDs, commands and byte layouts as in
https://github.com/Anrijs/Aranet4-Python ``aranet4/client.py`` and ``docs/UUIDs.md``, and the
vendor's author's ESP32 client https://github.com/Anrijs/Aranet4-ESP32 ``src/Aranet4.cpp``):

* ``f0cd2002`` interval (u16 LE, s), ``f0cd2004`` seconds since the last record (u16 LE),
  ``f0cd2001`` records in memory (u16 LE); ``2a00`` device name.
* History "V2": write ``61 PP SS SS`` (param, first index u16 LE, 1 = oldest) to the command
  characteristic ``f0cd1402``, then each read of ``f0cd2005`` returns the next chunk:
  header ``<BHHHHB`` (param, interval, total, ago, start, count) followed by ``count`` values
  (u8 for humidity, u16 LE otherwise). Before the device has the data ready it answers with
  ``count = 0``.
* History "V1" (older firmware): write ``82 PP 00 00 SS SS EE EE`` then subscribe to
  ``f0cd2003``; notifications ``<BHB`` (param, start, count) + values; a packet with
  ``count = 0`` ends the transfer.
* Raw values: temperature ×20 (bit 14 = invalid), pressure ×10 (bit 15 = invalid), CO2 ppm
  (bit 15 = invalid, e.g. during calibration), humidity % as u8.

The ring buffer holds 2016 records (Aranet4 manual: "7 days at 5-minute interval").
"""

from __future__ import annotations

import asyncio
import struct
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Final

from bleak.args import SizedBuffer
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakDeviceNotFoundError, BleakError
from bleak.uuids import normalize_uuid_16

from edge.sensors.model import SensorValues

CAPACITY: Final = 2016
SERVICE_SAF_TEHNIKA: Final = normalize_uuid_16(0xFCE0)
SERVICE_GAP: Final = normalize_uuid_16(0x1800)
SERVICE_DIS: Final = normalize_uuid_16(0x180A)
CHAR_DEVICE_NAME: Final = normalize_uuid_16(0x2A00)
CHAR_SW_REV: Final = normalize_uuid_16(0x2A26)
CHAR_CMD: Final = "f0cd1402-95da-4f4b-9ac8-aa55d312af0c"
CHAR_CURRENT: Final = "f0cd1503-95da-4f4b-9ac8-aa55d312af0c"
CHAR_TOTAL: Final = "f0cd2001-95da-4f4b-9ac8-aa55d312af0c"
CHAR_INTERVAL: Final = "f0cd2002-95da-4f4b-9ac8-aa55d312af0c"
CHAR_HISTORY_V1: Final = "f0cd2003-95da-4f4b-9ac8-aa55d312af0c"
CHAR_AGO: Final = "f0cd2004-95da-4f4b-9ac8-aa55d312af0c"
CHAR_HISTORY_V2: Final = "f0cd2005-95da-4f4b-9ac8-aa55d312af0c"

PARAM_TEMPERATURE: Final = 1
PARAM_HUMIDITY: Final = 2
PARAM_PRESSURE: Final = 3
PARAM_CO2: Final = 4
CMD_HISTORY_V2: Final = 0x61
CMD_HISTORY_V1: Final = 0x82
V2_HEADER: Final = struct.Struct("<BHHHHB")
V1_HEADER: Final = struct.Struct("<BHB")
ATT_PAYLOAD: Final = 244
"""Bytes per read: ATT MTU 247 − 3 (BLE 4.2 data length extension). The real chunk size is not
documented; clients must accept any, as the aranet4 parser does."""
V1_NOTIFY_PAYLOAD: Final = 20
"""Notifications at the default ATT MTU of 23."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def encode_param(param: int, values: SensorValues) -> int:
    """One record's raw history value for ``param`` (the inverse of aranet4's
    ``CurrentReading._set``); "not available" becomes the device's invalid flag."""
    if param == PARAM_TEMPERATURE:
        t = values.temperature_c
        return 0x4000 if t is None else max(0, min(0x3FFF, round(t * 20)))
    if param == PARAM_HUMIDITY:
        rh = values.humidity_pct
        return 0xFF if rh is None else max(0, min(100, round(rh)))
    if param == PARAM_PRESSURE:
        p = values.pressure_hpa
        return 0x8000 if p is None else max(0, min(0x7FFF, round(p * 10)))
    if param == PARAM_CO2:
        c = values.co2_ppm
        return 0x8000 if c is None else max(0, min(0x7FFF, round(c)))
    raise ValueError(f"Aranet4 has no history parameter {param}")


def value_size(param: int) -> int:
    return 1 if param == PARAM_HUMIDITY else 2


def pack_values(param: int, raw: Iterable[int]) -> bytes:
    fmt = "B" if value_size(param) == 1 else "H"
    items = list(raw)
    return struct.pack(f"<{len(items)}{fmt}", *items)


@dataclass
class AranetGattDevice:
    """One Aranet4's state: its history ring buffer, clock and injected faults.

    Faults (all off by default):
    ``refuse_connects`` — the next N connection attempts fail, as an out-of-range device does;
    ``disconnect_after_reads`` — the link drops after this many history reads/notifications on
    every connection; ``not_ready_reads`` — after each history command the device answers this
    many reads with an empty chunk (a slow device); ``latency_s`` — every GATT operation takes
    this long; ``truncate_packet`` — the Nth history packet of a connection loses its last
    value while its header still counts it.
    """

    address: str
    interval_s: int = 300
    name: str = "Aranet4 1A2B3"
    firmware: str = "v1.4.19"
    history_v2: bool = True
    capacity: int = CAPACITY
    clock: Callable[[], datetime] = utc_now
    refuse_connects: int = 0
    disconnect_after_reads: int | None = None
    not_ready_reads: int = 0
    latency_s: float = 0.0
    truncate_packet: int | None = None

    def __post_init__(self) -> None:
        self.address = self.address.upper()
        self.records: deque[tuple[datetime, SensorValues]] = deque(maxlen=self.capacity)
        self.connects = 0
        self.commands: list[bytes] = []

    def log(self, time: datetime, values: SensorValues) -> None:
        """Store one measurement, as the device does every interval (oldest falls out)."""
        if time.tzinfo is None:
            raise ValueError("record time must be timezone-aware")
        if self.records and time <= self.records[-1][0]:
            raise ValueError(f"records must be logged in time order ({time} after ...)")
        self.records.append((time, values))

    def fill(self, records: Iterable[tuple[datetime, SensorValues]]) -> None:
        for time, values in records:
            self.log(time, values)

    @property
    def total(self) -> int:
        return len(self.records)

    def seconds_since_update(self) -> int:
        if not self.records:
            return 0
        return max(0, int((self.clock() - self.records[-1][0]).total_seconds()))

    def raw_values(self, param: int, start: int, count: int) -> list[int]:
        """Raw values of records ``start`` … ``start + count - 1`` (1 = oldest)."""
        items = list(self.records)[start - 1 : start - 1 + count]
        return [encode_param(param, values) for _, values in items]

    def v2_chunk(self, param: int, start: int) -> bytes:
        """One read of the V2 history characteristic from record ``start`` on."""
        per = (ATT_PAYLOAD - V2_HEADER.size) // value_size(param)
        count = max(0, min(255, per, self.total - start + 1))
        header = V2_HEADER.pack(
            param, self.interval_s, self.total, self.seconds_since_update(), start, count
        )
        return header + pack_values(param, self.raw_values(param, start, count))

    def v1_packets(self, param: int, start: int, end: int) -> list[bytes]:
        """The V1 notifications for records ``start`` … ``end``, then the end marker."""
        per = (V1_NOTIFY_PAYLOAD - V1_HEADER.size) // value_size(param)
        end = min(end, self.total)
        packets = []
        index = max(1, start)
        while index <= end:
            count = min(per, end - index + 1)
            raw = self.raw_values(param, index, count)
            packets.append(V1_HEADER.pack(param, index, count) + pack_values(param, raw))
            index += count
        packets.append(V1_HEADER.pack(param, index, 0))
        return packets


class AranetGattRegistry:
    """The emulated devices in radio range, by address."""

    def __init__(self) -> None:
        self.devices: dict[str, AranetGattDevice] = {}

    def add(self, device: AranetGattDevice) -> AranetGattDevice:
        self.devices[device.address] = device
        return device

    def client_backend(self) -> type[AranetGattClient]:
        """A bleak client backend class that reaches the devices of this registry."""
        return type("AranetGattClientBound", (AranetGattClient,), {"registry": self})


def _gatt_table(device: AranetGattDevice) -> BleakGATTServiceCollection:
    services = BleakGATTServiceCollection()
    handle = 0
    table: list[tuple[str, list[tuple[str, list[Any]]]]] = [
        (SERVICE_GAP, [(CHAR_DEVICE_NAME, ["read"])]),
        (SERVICE_DIS, [(CHAR_SW_REV, ["read"])]),
        (
            SERVICE_SAF_TEHNIKA,
            [
                (CHAR_CMD, ["write"]),
                (CHAR_CURRENT, ["read"]),
                (CHAR_TOTAL, ["read"]),
                (CHAR_INTERVAL, ["read"]),
                (CHAR_AGO, ["read"]),
                (CHAR_HISTORY_V1, ["notify", "read"]),
                *([(CHAR_HISTORY_V2, ["read"])] if device.history_v2 else []),
            ],
        ),
    ]
    for service_uuid, chars in table:
        handle += 1
        service = BleakGATTService(None, handle, service_uuid)
        services.add_service(service)
        for char_uuid, props in chars:
            handle += 2
            services.add_characteristic(
                BleakGATTCharacteristic(None, handle, char_uuid, props, lambda: 20, service)
            )
    return services


class AranetGattClient(BaseBleakClient):
    """bleak client backend answering as the registered `AranetGattDevice` does."""

    registry: ClassVar[AranetGattRegistry] = AranetGattRegistry()

    def __init__(self, address_or_ble_device: Any, **kwargs: Any) -> None:
        super().__init__(
            address_or_ble_device,
            disconnected_callback=kwargs.pop("disconnected_callback", None),
            timeout=kwargs.pop("timeout", 10.0),
        )
        self._device: AranetGattDevice | None = None
        self._connected = False
        self._v2: tuple[int, int, int] | None = None  # param, next index, not-ready reads left
        self._v1: bytes | None = None
        self._history_packets = 0
        self._notifier: asyncio.Task[None] | None = None

    @property
    def mtu_size(self) -> int:
        return ATT_PAYLOAD + 3

    @property
    def is_connected(self) -> bool:
        return self._connected

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        device = self.registry.devices.get(self.address.upper())
        if device is None:
            raise BleakDeviceNotFoundError(self.address, f"Device {self.address} not found")
        await self._delay(device)
        device.connects += 1
        if device.refuse_connects > 0:
            device.refuse_connects -= 1
            raise BleakError(f"{self.address}: le-connection-abort-by-local (simulated)")
        self._device = device
        self._connected = True
        self._history_packets = 0
        self.services = _gatt_table(device)

    async def disconnect(self) -> None:
        self._drop(notify=False)

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        return None

    async def unpair(self) -> None:
        return None

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        device = await self._ready()
        uuid = characteristic.uuid
        u16 = struct.Struct("<H").pack
        if uuid == CHAR_DEVICE_NAME:
            return bytearray(device.name.encode())
        if uuid == CHAR_SW_REV:
            return bytearray(device.firmware.encode())
        if uuid == CHAR_TOTAL:
            return bytearray(u16(device.total))
        if uuid == CHAR_INTERVAL:
            return bytearray(u16(device.interval_s))
        if uuid == CHAR_AGO:
            return bytearray(u16(device.seconds_since_update()))
        if uuid == CHAR_HISTORY_V2:
            return bytearray(self._next_v2_chunk(device))
        raise BleakError(f"emulated Aranet4 cannot read {uuid}")

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        raise BleakError("emulated Aranet4 has no readable descriptors")

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: SizedBuffer, response: bool
    ) -> None:
        device = await self._ready()
        payload = bytes(data)
        if characteristic.uuid != CHAR_CMD:
            raise BleakError(f"emulated Aranet4 cannot write {characteristic.uuid}")
        device.commands.append(payload)
        if len(payload) == 4 and payload[0] == CMD_HISTORY_V2:
            _, param, start = struct.unpack("<BBH", payload)
            self._v2 = (param, max(1, start), device.not_ready_reads)
        elif len(payload) == 8 and payload[0] == CMD_HISTORY_V1:
            self._v1 = payload

    async def write_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, data: SizedBuffer
    ) -> None:
        raise BleakError("emulated Aranet4 has no writable descriptors")

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        device = await self._ready()
        if characteristic.uuid != CHAR_HISTORY_V1:
            raise BleakError(f"emulated Aranet4 cannot notify {characteristic.uuid}")
        if self._v1 is None:
            return
        _, param, _, start, end = struct.unpack("<BBHHH", self._v1)
        packets = device.v1_packets(param, start, end)
        self._notifier = asyncio.get_running_loop().create_task(
            self._send_notifications(device, packets, callback)
        )

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        self._stop_notifier()

    # -- device behaviour ---------------------------------------------------------------------

    async def _delay(self, device: AranetGattDevice) -> None:
        if device.latency_s > 0:
            await asyncio.sleep(device.latency_s)

    async def _ready(self) -> AranetGattDevice:
        if not self._connected or self._device is None:
            raise BleakError(f"{self.address}: not connected")
        await self._delay(self._device)
        if not self._connected:  # dropped while we waited
            raise BleakError(f"{self.address}: disconnected")
        return self._device

    def _count_history_packet(self, device: AranetGattDevice) -> None:
        self._history_packets += 1
        limit = device.disconnect_after_reads
        if limit is not None and self._history_packets > limit:
            self._drop(notify=True)
            raise BleakError(f"{self.address}: disconnected (simulated link loss)")

    def _next_v2_chunk(self, device: AranetGattDevice) -> bytes:
        if self._v2 is None:
            return V2_HEADER.pack(0, device.interval_s, device.total, 0, 0, 0)
        param, start, not_ready = self._v2
        if not_ready > 0:
            self._v2 = (param, start, not_ready - 1)
            return V2_HEADER.pack(param, device.interval_s, device.total, 0, start, 0)
        self._count_history_packet(device)
        chunk = device.v2_chunk(param, start)
        count = chunk[V2_HEADER.size - 1]
        self._v2 = (param, start + count, 0)
        if device.truncate_packet == self._history_packets and count > 0:
            chunk = chunk[: -value_size(param)]
        return chunk

    async def _send_notifications(
        self, device: AranetGattDevice, packets: list[bytes], callback: NotifyCallback
    ) -> None:
        for packet in packets:
            await asyncio.sleep(device.latency_s)
            if not self._connected:
                return
            try:
                self._count_history_packet(device)
            except BleakError:
                return
            if device.truncate_packet == self._history_packets and packet[3] > 0:
                packet = packet[: -value_size(packet[0])]
            callback(bytearray(packet))

    def _stop_notifier(self) -> None:
        task, self._notifier = self._notifier, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    def _drop(self, *, notify: bool) -> None:
        was_connected = self._connected
        self._connected = False
        self._v2 = None
        self._v1 = None
        self._stop_notifier()
        if notify and was_connected and self._disconnected_callback is not None:
            self._disconnected_callback()
