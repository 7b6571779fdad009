"""BLE sensor emulators: the exact advertisement payloads real devices send, from values.

Every encoder takes physical values (``None`` = the device's "not available" marker) and
returns the manufacturer-data or service-data payload, company id / UUID not included.
Specs: Ruuvi https://docs.ruuvi.com/communication/bluetooth-advertisements (formats 5, 6, E1);
Aranet4 https://github.com/Anrijs/Aranet4-Python (advertisement layout in ``client.py``);
BTHome v2 https://bthome.io/format/ and https://bthome.io/encryption/;
ATC1441 https://github.com/atc1441/ATC_MiThermometer#advertising-format-of-the-custom-firmware;
pvvx https://github.com/pvvx/ATC_MiThermometer#custom-format-all-data-little-endian.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESCCM

RUUVI_COMPANY_ID: Final = 0x0499
ARANET_COMPANY_ID: Final = 0x0702
BTHOME_UUID: Final = "0000fcd2-0000-1000-8000-00805f9b34fb"
ENV_SENSING_UUID: Final = "0000181a-0000-1000-8000-00805f9b34fb"


def _mac_bytes(mac: str) -> bytes:
    return bytes.fromhex(mac.replace(":", "").replace("-", ""))


def _clip(value: float, low: int, high: int) -> int:
    return max(low, min(high, round(value)))


# -- Ruuvi ------------------------------------------------------------------------------------


def _ruuvi_common(t: float | None, rh: float | None, p: float | None) -> bytes:
    return struct.pack(
        ">hHH",
        -32768 if t is None else _clip(t / 0.005, -32767, 32767),
        0xFFFF if rh is None else _clip(rh / 0.0025, 0, 65534),
        0xFFFF if p is None else _clip(p * 100 - 50000, 0, 65534),
    )


def ruuvi_df5(
    temperature_c: float | None,
    humidity_pct: float | None,
    pressure_hpa: float | None,
    battery_mv: float | None,
    sequence: int | None,
    mac: str,
    *,
    tx_power_dbm: int = 4,
    movement: int = 0,
    acceleration_mg: tuple[int, int, int] = (0, 0, 1000),
) -> bytes:
    """RuuviTag data format 5 (RAWv2), 24 bytes."""
    volt = 0x7FF if battery_mv is None else _clip(battery_mv - 1600, 0, 2046)
    power = (volt << 5) | _clip((tx_power_dbm + 40) / 2, 0, 30)
    return (
        b"\x05"
        + _ruuvi_common(temperature_c, humidity_pct, pressure_hpa)
        + struct.pack(
            ">hhhHBH", *acceleration_mg, power, movement, 0xFFFF if sequence is None else sequence
        )
        + _mac_bytes(mac)
    )


_LUX_DELTA: Final = math.log(65536) / 254


def _voc_nox(voc: float | None, nox: float | None) -> tuple[int, int, int]:
    v = 0x1FF if voc is None else _clip(voc, 0, 500)
    n = 0x1FF if nox is None else _clip(nox, 0, 500)
    return v >> 1, n >> 1, ((v & 1) << 6) | ((n & 1) << 7)


def ruuvi_df6(
    temperature_c: float | None,
    humidity_pct: float | None,
    pressure_hpa: float | None,
    co2_ppm: float | None,
    pm25_ugm3: float | None,
    sequence: int,
    mac: str,
    *,
    voc_index: float | None = None,
    nox_index: float | None = None,
    illuminance_lux: float | None = None,
    calibrating: bool = False,
) -> bytes:
    """Ruuvi Air data format 6 (Bluetooth 4 compatible), 20 bytes; lux on a log scale."""
    voc_hi, nox_hi, flags = _voc_nox(voc_index, nox_index)
    lux = (
        0xFF
        if illuminance_lux is None
        else _clip(math.log(illuminance_lux + 1) / _LUX_DELTA, 0, 254)
    )
    return (
        b"\x06"
        + _ruuvi_common(temperature_c, humidity_pct, pressure_hpa)
        + struct.pack(
            ">HHBBBBBB",
            0xFFFF if pm25_ugm3 is None else _clip(pm25_ugm3 * 10, 0, 10000),
            0xFFFF if co2_ppm is None else _clip(co2_ppm, 0, 40000),
            voc_hi,
            nox_hi,
            lux,
            0xFF,  # reserved
            sequence & 0xFF,
            flags | int(calibrating),
        )
        + _mac_bytes(mac)[3:]
    )


def ruuvi_e1(
    temperature_c: float | None,
    humidity_pct: float | None,
    pressure_hpa: float | None,
    co2_ppm: float | None,
    pm_ugm3: tuple[float | None, float | None, float | None, float | None],
    sequence: int | None,
    mac: str,
    *,
    voc_index: float | None = None,
    nox_index: float | None = None,
    illuminance_lux: float | None = None,
    calibrating: bool = False,
) -> bytes:
    """Ruuvi Air data format E1 (extended v1), 40 bytes. ``pm_ugm3`` = (PM1, PM2.5, PM4, PM10)."""
    voc_hi, nox_hi, flags = _voc_nox(voc_index, nox_index)
    pms = [0xFFFF if pm is None else _clip(pm * 10, 0, 10000) for pm in pm_ugm3]
    lux = 0xFFFFFF if illuminance_lux is None else _clip(illuminance_lux * 100, 0, 0xFFFFFE)
    seq = 0xFFFFFF if sequence is None else sequence & 0xFFFFFF
    return (
        b"\xe1"
        + _ruuvi_common(temperature_c, humidity_pct, pressure_hpa)
        + struct.pack(">HHHHH", *pms, 0xFFFF if co2_ppm is None else _clip(co2_ppm, 0, 40000))
        + bytes([voc_hi, nox_hi])
        + lux.to_bytes(3, "big")
        + b"\xff\xff\xff"  # reserved
        + seq.to_bytes(3, "big")
        + bytes([flags | int(calibrating)])
        + b"\xff" * 5  # reserved
        + _mac_bytes(mac)
    )


# -- Aranet4 ----------------------------------------------------------------------------------

_ARANET_FILLER: Final = bytes.fromhex("00050001")  # as in a v1.3.5 device's advert


def aranet4(
    co2_ppm: int | None,
    temperature_c: float | None,
    humidity_pct: int | None,
    pressure_hpa: float | None,
    battery_pct: int,
    *,
    interval_s: int = 300,
    ago_s: int = 0,
    counter: int = 0,
    smart_home: bool = True,
    version: tuple[int, int, int] = (1, 3, 5),
) -> bytes:
    """Aranet4 manufacturer data: 22 bytes with Smart Home integrations on, else 7 bytes
    (status + firmware version only). Invalid readings carry the firmware's flag bits
    (CO2/pressure bit 15, temperature bit 14)."""
    major, minor, patch = version
    status = (1 << 5) if smart_home else 0
    head = bytes([status | 0x01, patch, minor, major])
    if not smart_home:
        return head + b"\x00\x00\x00"
    color = 1 if co2_ppm is None or co2_ppm < 1000 else (2 if co2_ppm < 1400 else 3)
    return (
        head
        + _ARANET_FILLER
        + struct.pack(
            "<HHHBBBHHB",
            0x8000 if co2_ppm is None else co2_ppm,
            0x4000 if temperature_c is None else _clip(temperature_c / 0.05, 0, 0x3FFF),
            0x8000 if pressure_hpa is None else _clip(pressure_hpa * 10, 0, 0x7FFF),
            0 if humidity_pct is None else humidity_pct,
            battery_pct,
            color,
            interval_s,
            ago_s,
            counter & 0xFF,
        )
    )


# -- BTHome v2 --------------------------------------------------------------------------------

# object id -> (struct format, factor); https://bthome.io/format/
_BTHOME_OBJECTS: Final[Mapping[str, tuple[int, str, float]]] = {
    "battery_pct": (0x01, "<B", 1),
    "temperature_c": (0x02, "<h", 0.01),
    "humidity_pct": (0x03, "<H", 0.01),
    "co2_ppm": (0x12, "<H", 1),
    "battery_mv": (0x0C, "<H", 1),  # object is volts × 0.001, i.e. millivolts
    "pm25_ugm3": (0x0D, "<H", 1),
    "pm10_ugm3": (0x0E, "<H", 1),
}


def bthome_v2(
    values: Mapping[str, float],
    *,
    packet_id: int | None = None,
    bind_key: bytes | None = None,
    mac: str | None = None,
    counter: int = 0,
    trigger_based: bool = False,
) -> bytes:
    """BTHome v2 service data (UUID 0xFCD2). Objects are written in object-id order.

    With ``bind_key`` the object list is AES-CCM encrypted (4-byte MIC), nonce = MAC ‖ D2 FC ‖
    device-info ‖ counter (LE), as https://bthome.io/encryption/ specifies; ``mac`` required.
    """
    objs: list[tuple[int, bytes]] = []
    if packet_id is not None:
        objs.append((0x00, bytes([packet_id & 0xFF])))
    for name, value in values.items():
        obj_id, fmt, factor = _BTHOME_OBJECTS[name]
        objs.append((obj_id, bytes([obj_id]) + struct.pack(fmt, round(value / factor))))
    objs.sort(key=lambda o: o[0])
    payload = b"".join(b if oid != 0 else b"\x00" + b for oid, b in objs)
    info = 0x40 | (0x04 if trigger_based else 0)
    if bind_key is None:
        return bytes([info]) + payload
    if mac is None:
        raise ValueError("an encrypted BTHome advert needs the device MAC for the nonce")
    info |= 0x01
    count = counter.to_bytes(4, "little")
    nonce = _mac_bytes(mac) + b"\xd2\xfc" + bytes([info]) + count
    sealed = AESCCM(bind_key, tag_length=4).encrypt(nonce, payload, None)
    return bytes([info]) + sealed[:-4] + count + sealed[-4:]


# -- Xiaomi LYWSD03MMC custom firmware ----------------------------------------------------------


def atc1441(
    temperature_c: float,
    humidity_pct: float,
    battery_pct: int,
    battery_mv: int,
    counter: int,
    mac: str,
) -> bytes:
    """atc1441 format, 13 bytes: MAC, int16 BE 0.1 °C, RH %, battery %, mV BE, counter."""
    return _mac_bytes(mac) + struct.pack(
        ">hBBHB",
        round(temperature_c * 10),
        round(humidity_pct),
        battery_pct,
        battery_mv,
        counter & 0xFF,
    )


def pvvx(
    temperature_c: float,
    humidity_pct: float,
    battery_pct: int,
    battery_mv: int,
    counter: int,
    mac: str,
    flags: int = 0,
) -> bytes:
    """pvvx custom format, 15 bytes, little-endian, MAC reversed, 0.01 °C and 0.01 %."""
    return _mac_bytes(mac)[::-1] + struct.pack(
        "<hHHBBB",
        round(temperature_c * 100),
        round(humidity_pct * 100),
        battery_mv,
        battery_pct,
        counter & 0xFF,
        flags,
    )


# -- a device on the air ----------------------------------------------------------------------


class AdvertSink(Protocol):
    """Where adverts go: the gateway's injected bleak adapter has this ``push``."""

    def push(
        self,
        address: str,
        rssi: int | None = None,
        manufacturer_data: Mapping[int, bytes] | None = None,
        service_data: Mapping[str, bytes] | None = None,
        local_name: str | None = None,
    ) -> int: ...


@dataclass
class BleAdvertiser:
    """One emulated device: holds its current payload and sends it, unless gone silent."""

    address: str
    rssi: int = -65
    local_name: str | None = None
    manufacturer_data: dict[int, bytes] = field(default_factory=dict)
    service_data: dict[str, bytes] = field(default_factory=dict)
    silent: bool = False
    """Fault: battery flat / out of range — nothing is sent."""

    def advertise(self, sink: AdvertSink) -> bool:
        if self.silent:
            return False
        sink.push(
            self.address, self.rssi, self.manufacturer_data, self.service_data, self.local_name
        )
        return True
