"""BLE sensors: advertisement decoders (Ruuvi, Aranet4, BTHome v2, ATC/pvvx), the scanner
source, an injected bleak backend for tests and the simulator, and a commissioning scan.

`decode` and `parse_bind_key` are loaded on first use (PEP 562), so importing the types here
(or `injected`) does not load the decoder libraries; see `dispatch` for why that matters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from edge.sensors.ble.model import (
    BleFormat,
    Decoded,
    DecodeError,
    DecodeReason,
    DecodeResult,
    RawAdvert,
    uuid16_to_128,
)

if TYPE_CHECKING:
    from edge.sensors.ble.dispatch import decode, parse_bind_key

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


def __getattr__(name: str) -> Any:
    if name in ("decode", "parse_bind_key"):
        from edge.sensors.ble import dispatch

        return getattr(dispatch, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
