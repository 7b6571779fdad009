"""BTHome v2 (service data UUID 0xFCD2), plain and AES-CCM encrypted, via `bthome-ble`.

Spec: https://bthome.io/format/ and https://bthome.io/encryption/. A device configured with a
bind key is never accepted in plaintext (the library flags that as an encryption downgrade).
A fresh parser per advertisement keeps this function pure; duplicate filtering by packet id is
done by the caller (`BleSource`), which knows the device.
"""

from __future__ import annotations

import logging
from typing import Final

from bthome_ble import BTHomeBluetoothDeviceData
from bthome_ble.parser import EncryptionScheme
from sensor_state_data import SensorUpdate

from edge.sensors.ble.model import (
    BTHOME_UUID16,
    BleFormat,
    Decoded,
    DecodeError,
    DecodeReason,
    DecodeResult,
    RawAdvert,
)
from edge.sensors.ble.service_info import to_service_info
from edge.sensors.model import SensorValues

SERVICE_UUID16: Final = BTHOME_UUID16
_V2: Final = 2
_ENCRYPTED_BIT: Final = 0x01
_LOG = logging.getLogger(__name__)

# library sensor key -> (our field, factor)
_FIELDS: Final[dict[str, tuple[str, float]]] = {
    "temperature": ("temperature_c", 1.0),
    "humidity": ("humidity_pct", 1.0),
    "carbon_dioxide": ("co2_ppm", 1.0),
    "pressure": ("pressure_hpa", 1.0),
    "battery": ("battery_pct", 1.0),
    "voltage": ("battery_mv", 1000.0),
    "pm25": ("pm25_ugm3", 1.0),
    "pm10": ("pm10_ugm3", 1.0),
    "illuminance": ("illuminance_lux", 1.0),
}


def _values(update: SensorUpdate) -> SensorValues:
    found: dict[str, float] = {}
    for key, value in update.entity_values.items():
        target = _FIELDS.get(key.key)
        if target is None or not isinstance(value.native_value, int | float):
            continue
        name, factor = target
        found[name] = round(float(value.native_value) * factor, 6)
    return SensorValues(**found)


def decode(advert: RawAdvert, data: bytes, bind_key: bytes | None) -> DecodeResult:
    """BTHome v2 object list → values; ``sequence`` is the packet id (object 0x00) if sent."""
    fmt = BleFormat.BTHOME_V2
    if not data:
        return DecodeError(DecodeReason.TRUNCATED, "BTHome: empty service data", fmt)
    if (data[0] >> 5) & 0x07 != _V2:
        return DecodeError(
            DecodeReason.NOT_SUPPORTED,
            f"BTHome: device info byte 0x{data[0]:02x} is not BTHome version 2",
            fmt,
        )
    encrypted = bool(data[0] & _ENCRYPTED_BIT)
    if bind_key is not None and not encrypted:
        return DecodeError(
            DecodeReason.PLAINTEXT_WITH_KEY,
            f"BTHome {advert.address}: sent unencrypted but a bind key is configured — refused; "
            "turn encryption on in the device, or remove the key from the gateway config",
            fmt,
        )
    if encrypted and bind_key is None:
        return DecodeError(
            DecodeReason.ENCRYPTED_NO_KEY,
            f"BTHome {advert.address}: encrypted — add its bind_key to the gateway config",
            fmt,
        )
    parser = BTHomeBluetoothDeviceData(bindkey=bind_key)
    update = parser.update(to_service_info(advert))
    if parser.encryption_scheme is EncryptionScheme.BTHOME_BINDKEY and not parser.bindkey_verified:
        return DecodeError(
            DecodeReason.WRONG_KEY,
            f"BTHome {advert.address}: decryption failed — wrong bind key (or corrupt advert); "
            "check bind_key in the gateway config against the device",
            fmt,
        )
    values = _values(update)
    if not values.quantities():
        return DecodeError(
            DecodeReason.NO_READINGS,
            f"BTHome {advert.address}: no climate quantities in {data.hex()}",
            fmt,
        )
    sequence = parser.packet_id
    if sequence is None and encrypted:
        sequence = parser.encryption_counter  # changes with every advert; repeats are copies
    return Decoded(fmt, values, sequence=None if sequence is None else int(sequence))
