"""BLE sensors: advertisement decoders (Ruuvi, Aranet4, BTHome v2, ATC/pvvx), the scanner
source, an injected bleak backend for tests and the simulator, and a commissioning scan."""

from edge.sensors.ble.dispatch import decode, parse_bind_key
from edge.sensors.ble.model import (
    BleFormat,
    Decoded,
    DecodeError,
    DecodeReason,
    DecodeResult,
    RawAdvert,
    uuid16_to_128,
)

__all__ = [
    "BleFormat",
    "DecodeError",
    "DecodeReason",
    "DecodeResult",
    "Decoded",
    "RawAdvert",
    "decode",
    "parse_bind_key",
    "uuid16_to_128",
]
