"""Xiaomi LYWSD03MMC with ATC1441 or pvvx custom firmware: service data 0x181A.

No maintained Bluetooth-Devices library decodes these (`xiaomi-ble` handles only MiBeacon 0xFE95
and a few scales/plant sensors), so this is our own decoder, after the firmware READMEs:

- atc1441 (13 bytes): https://github.com/atc1441/ATC_MiThermometer#advertising-format-of-the-custom-firmware
  MAC[6] (natural order), temperature int16 big-endian × 0.1 °C, humidity uint8 %,
  battery uint8 %, battery uint16 big-endian mV, frame counter uint8.
- pvvx "custom" (15 bytes): https://github.com/pvvx/ATC_MiThermometer#custom-format-all-data-little-endian
  MAC[6] (reversed), temperature int16 LE × 0.01 °C, humidity uint16 LE × 0.01 %,
  battery uint16 LE mV, battery uint8 %, measurement counter uint8, flags uint8.
"""

from __future__ import annotations

import struct
from typing import Final

from edge.sensors.ble.model import (
    ENV_SENSING_UUID16,
    BleFormat,
    Decoded,
    DecodeError,
    DecodeReason,
    DecodeResult,
)
from edge.sensors.model import SensorValues

SERVICE_UUID16: Final = ENV_SENSING_UUID16
ATC1441_LEN: Final = 13
PVVX_LEN: Final = 15
_ATC = struct.Struct(">6shBBHB")
_PVVX = struct.Struct("<6shHHBBB")


def decode_atc1441(data: bytes) -> DecodeResult:
    """atc1441 format (big-endian, 0.1 °C, whole-percent humidity)."""
    _mac, temp, hum, batt_pct, batt_mv, counter = _ATC.unpack(data)
    return Decoded(
        BleFormat.ATC1441,
        SensorValues(
            temperature_c=round(temp * 0.1, 1),
            humidity_pct=float(hum),
            battery_pct=float(batt_pct),
            battery_mv=float(batt_mv),
        ),
        sequence=counter,
    )


def decode_pvvx(data: bytes) -> DecodeResult:
    """pvvx custom format (little-endian, 0.01 °C, 0.01 % humidity)."""
    _mac, temp, hum, batt_mv, batt_pct, counter, _flags = _PVVX.unpack(data)
    return Decoded(
        BleFormat.PVVX,
        SensorValues(
            temperature_c=round(temp * 0.01, 2),
            humidity_pct=round(hum * 0.01, 2),
            battery_pct=float(batt_pct),
            battery_mv=float(batt_mv),
        ),
        sequence=counter,
    )


def decode(data: bytes) -> DecodeResult:
    """Pick the format by length, as both firmwares' readers do."""
    if len(data) == ATC1441_LEN:
        return decode_atc1441(data)
    if len(data) == PVVX_LEN:
        return decode_pvvx(data)
    return DecodeError(
        DecodeReason.MALFORMED,
        f"0x181A service data of {len(data)} bytes is neither atc1441 ({ATC1441_LEN}) nor "
        f"pvvx custom ({PVVX_LEN}) — set the thermometer's advertising format to 'custom'",
    )
