"""Ruuvi data formats 5 (RuuviTag), 6 and E1 (Ruuvi Air), company id 0x0499.

Decoded by the maintained `ruuvitag-ble` decoder classes (they take the payload bytes; the
library's `RuuvitagBluetoothDeviceData` drops the measurement sequence we de-duplicate by).

Memory: ``import ruuvitag_ble.df5_decoder`` first runs the package's ``__init__``, which imports
its Home Assistant parser and through it habluetooth's whole scanner stack (dbus-fast,
bleak-retry-connector, bluetooth-adapters, cryptography) — about 15 MB resident on the gateway,
measured with ``python bench/bench_gateway.py`` — none of which these decoders use. The decoder
modules are plain ``struct`` code with no package-relative imports, so `_library_module` loads
them from the installed package's files without its ``__init__``, and falls back to the normal
import if that ever stops working.
Specs: https://docs.ruuvi.com/communication/bluetooth-advertisements/data-format-5-rawv2,
https://docs.ruuvi.com/communication/bluetooth-advertisements/data-format-6,
https://docs.ruuvi.com/communication/bluetooth-advertisements/data-format-e1
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
from types import ModuleType
from typing import TYPE_CHECKING, Final

from edge.sensors.ble.model import (
    RUUVI_COMPANY_ID,
    BleFormat,
    Decoded,
    DecodeError,
    DecodeReason,
    DecodeResult,
)
from edge.sensors.model import SensorValues

COMPANY_ID: Final = RUUVI_COMPANY_ID
_DF5_LEN: Final = 24
_DF6_LEN: Final = 20
_E1_LEN: Final = 40
_DF5_SEQ_NOT_AVAILABLE: Final = 0xFFFF
_LIBRARY: Final = "ruuvitag_ble"
_LOG = logging.getLogger(__name__)


def _library_module(name: str) -> ModuleType:
    """``ruuvitag_ble.<name>`` loaded from its file, without running ``ruuvitag_ble/__init__``."""
    qualified = f"{_LIBRARY}.{name}"
    loaded = sys.modules.get(qualified)
    if loaded is not None:  # the package is imported anyway (e.g. by Home Assistant code)
        return loaded
    alias = f"_indeklima_{_LIBRARY}_{name}"
    if alias in sys.modules:
        return sys.modules[alias]
    try:
        package = importlib.util.find_spec(_LIBRARY)
        if package is None or not package.submodule_search_locations:
            raise ImportError(f"{_LIBRARY} is not installed — pip install 'indeklima[edge]'")
        location = next(iter(package.submodule_search_locations))
        spec = importlib.util.spec_from_file_location(alias, f"{location}/{name}.py")
        if spec is None or spec.loader is None:
            raise ImportError(f"{qualified}: no loader")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    except Exception:  # a future layout: pay for the package __init__ rather than fail
        _LOG.debug("loading %s standalone failed; importing the package", qualified, exc_info=True)
        return importlib.import_module(qualified)
    sys.modules[alias] = module
    return module


if TYPE_CHECKING:
    from ruuvitag_ble.df5_decoder import DataFormat5Decoder
    from ruuvitag_ble.df6_decoder import DataFormat6Decoder
    from ruuvitag_ble.dfe1_decoder import DataFormatE1Decoder
else:
    DataFormat5Decoder = _library_module("df5_decoder").DataFormat5Decoder
    DataFormat6Decoder = _library_module("df6_decoder").DataFormat6Decoder
    DataFormatE1Decoder = _library_module("dfe1_decoder").DataFormatE1Decoder


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
