"""Ruuvi data formats 5 (RuuviTag), 6 and E1 (Ruuvi Air), company id 0x0499.

Decoded by the maintained `ruuvitag-ble` decoder classes (they take the payload bytes; the
library's `RuuvitagBluetoothDeviceData` drops the measurement sequence we de-duplicate by).
Specs: https://docs.ruuvi.com/communication/bluetooth-advertisements/data-format-5-rawv2,
https://docs.ruuvi.com/communication/bluetooth-advertisements/data-format-6,
https://docs.ruuvi.com/communication/bluetooth-advertisements/data-format-e1
"""

from __future__ import annotations

from typing import Final

from ruuvitag_ble.df5_decoder import DataFormat5Decoder
from ruuvitag_ble.df6_decoder import DataFormat6Decoder
from ruuvitag_ble.dfe1_decoder import DataFormatE1Decoder

from edge.sensors.ble.model import BleFormat, Decoded, DecodeError, DecodeReason, DecodeResult
from edge.sensors.model import SensorValues

COMPANY_ID: Final = 0x0499
_DF5_LEN: Final = 24
_DF6_LEN: Final = 20
_E1_LEN: Final = 40
_DF5_SEQ_NOT_AVAILABLE: Final = 0xFFFF


def _f(value: float | None) -> float | None:
    return None if value is None else float(value)


def _short(fmt: BleFormat, data: bytes, need: int) -> DecodeError:
    return DecodeError(
        DecodeReason.TRUNCATED,
        f"Ruuvi {fmt}: {len(data)} bytes, needs {need} — advertisement truncated",
        fmt,
    )


def decode_df5(data: bytes) -> DecodeResult:
    """RuuviTag RAWv2: T, RH, pressure, battery, 16-bit measurement sequence."""
    if len(data) < _DF5_LEN:
        return _short(BleFormat.RUUVI_DF5, data, _DF5_LEN)
    d = DataFormat5Decoder(data[:_DF5_LEN])
    seq = d.measurement_sequence_number
    return Decoded(
        BleFormat.RUUVI_DF5,
        SensorValues(
            temperature_c=_f(d.temperature_celsius),
            humidity_pct=_f(d.humidity_percentage),
            pressure_hpa=_f(d.pressure_hpa),
            battery_mv=_f(d.battery_voltage_mv),
        ),
        sequence=None if seq == _DF5_SEQ_NOT_AVAILABLE else seq,
    )


def decode_df6(data: bytes) -> DecodeResult:
    """Ruuvi Air, Bluetooth 4 compatible: T, RH, pressure, PM2.5, CO2, VOC, NOx, light."""
    if len(data) < _DF6_LEN:
        return _short(BleFormat.RUUVI_DF6, data, _DF6_LEN)
    d = DataFormat6Decoder(data)
    return Decoded(
        BleFormat.RUUVI_DF6,
        SensorValues(
            temperature_c=_f(d.temperature_celsius),
            humidity_pct=_f(d.humidity_percentage),
            pressure_hpa=_f(d.pressure_hpa),
            pm25_ugm3=_f(d.pm25_ug_m3),
            co2_ppm=_f(d.co2_ppm),
            voc_index=_f(d.voc_index),
            nox_index=_f(d.nox_index),
            illuminance_lux=_f(d.luminosity_lux),
        ),
        sequence=d.measurement_sequence_number,
    )


def decode_e1(data: bytes) -> DecodeResult:
    """Ruuvi Air extended v1: adds PM1/PM4/PM10 and a 24-bit measurement sequence."""
    if len(data) < _E1_LEN:
        return _short(BleFormat.RUUVI_E1, data, _E1_LEN)
    d = DataFormatE1Decoder(data)
    return Decoded(
        BleFormat.RUUVI_E1,
        SensorValues(
            temperature_c=_f(d.temperature_celsius),
            humidity_pct=_f(d.humidity_percentage),
            pressure_hpa=_f(d.pressure_hpa),
            pm1_ugm3=_f(d.pm1_ug_m3),
            pm25_ugm3=_f(d.pm25_ug_m3),
            pm4_ugm3=_f(d.pm4_ug_m3),
            pm10_ugm3=_f(d.pm10_ug_m3),
            co2_ppm=_f(d.co2_ppm),
            voc_index=_f(d.voc_index),
            nox_index=_f(d.nox_index),
            illuminance_lux=_f(d.luminosity_lux),
        ),
        sequence=d.measurement_sequence_number,
    )
