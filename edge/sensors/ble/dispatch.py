"""Bytes in, values or a reason out: dispatch tables by company id, service UUID and format byte.

`decode` never raises: anything a decoder or library raises on hostile bytes becomes a
`DecodeError` with the reason, so one bad advert can never stop the scanner loop.

Each format's module — and with it its decoder library — is imported on first use (or up front
by `import_decoders` for the configured kinds): `bthome-ble` pulls in habluetooth's scanner
stack and cryptography, about 15 MB resident on a gateway that has no BTHome sensor
(``python bench/bench_gateway.py`` prints the figures). `identify` names a format from the
advert's framing alone, without loading any library.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Final

from edge.sensors.ble.model import (
    ARANET_COMPANY_ID,
    BTHOME_UUID16,
    ENV_SENSING_UUID16,
    RUUVI_COMPANY_ID,
    BleFormat,
    Decoded,
    DecodeError,
    DecodeReason,
    DecodeResult,
    RawAdvert,
    uuid16_to_128,
)

_LOG = logging.getLogger(__name__)

PayloadDecoder = Callable[[RawAdvert, bytes, bytes | None], DecodeResult]

RUUVI_FORMATS: Final[Mapping[int, BleFormat]] = {
    0x05: BleFormat.RUUVI_DF5,
    0x06: BleFormat.RUUVI_DF6,
    0xE1: BleFormat.RUUVI_E1,
}
_RUUVI_DECODERS: Final[Mapping[BleFormat, str]] = {
    BleFormat.RUUVI_DF5: "decode_df5",
    BleFormat.RUUVI_DF6: "decode_df6",
    BleFormat.RUUVI_E1: "decode_e1",
}
_ATC_LENGTHS: Final[Mapping[int, BleFormat]] = {13: BleFormat.ATC1441, 15: BleFormat.PVVX}
MODULES: Final[Mapping[BleFormat, str]] = {
    BleFormat.RUUVI_DF5: "edge.sensors.ble.ruuvi",
    BleFormat.RUUVI_DF6: "edge.sensors.ble.ruuvi",
    BleFormat.RUUVI_E1: "edge.sensors.ble.ruuvi",
    BleFormat.ARANET4: "edge.sensors.ble.aranet",
    BleFormat.BTHOME_V2: "edge.sensors.ble.bthome",
    BleFormat.ATC1441: "edge.sensors.ble.atc",
    BleFormat.PVVX: "edge.sensors.ble.atc",
}
"""The module (and so the decoder library) each format needs."""


def import_decoders(formats: Iterable[BleFormat]) -> None:
    """Load the decoders of these formats now (at startup, not in the first advert's callback).
    Raises ImportError naming the missing library."""
    for module in sorted({MODULES[f] for f in formats}):
        importlib.import_module(module)


def _ruuvi(_advert: RawAdvert, data: bytes, _key: bytes | None) -> DecodeResult:
    from edge.sensors.ble import ruuvi

    if not data:
        return DecodeError(DecodeReason.TRUNCATED, "Ruuvi: empty manufacturer data")
    fmt = RUUVI_FORMATS.get(data[0])
    if fmt is None:
        return DecodeError(
            DecodeReason.NOT_SUPPORTED,
            f"Ruuvi data format 0x{data[0]:02X} is not supported (5, 6 and E1 are) — "
            "update the tag's firmware",
        )
    decoder: Callable[[bytes], DecodeResult] = getattr(ruuvi, _RUUVI_DECODERS[fmt])
    return decoder(data)


def _aranet(advert: RawAdvert, data: bytes, _key: bytes | None) -> DecodeResult:
    from edge.sensors.ble import aranet

    return aranet.decode(advert, data)


def _atc(_advert: RawAdvert, data: bytes, _key: bytes | None) -> DecodeResult:
    from edge.sensors.ble import atc

    return atc.decode(data)


def _bthome(advert: RawAdvert, data: bytes, key: bytes | None) -> DecodeResult:
    from edge.sensors.ble import bthome

    return bthome.decode(advert, data, key)


BY_COMPANY_ID: Final[Mapping[int, PayloadDecoder]] = {
    RUUVI_COMPANY_ID: _ruuvi,
    ARANET_COMPANY_ID: _aranet,
}
BY_SERVICE_UUID: Final[Mapping[str, PayloadDecoder]] = {
    uuid16_to_128(BTHOME_UUID16): _bthome,
    uuid16_to_128(ENV_SENSING_UUID16): _atc,
}
_BTHOME_UUID: Final = uuid16_to_128(BTHOME_UUID16)
_ENV_SENSING_UUID: Final = uuid16_to_128(ENV_SENSING_UUID16)


def identify(advert: RawAdvert) -> BleFormat | None:
    """The format the advert is framed as (company id, UUID, format byte or length), without
    decoding it or loading a library; None when it is none of ours. Same order as `decode`."""
    for company_id, data in advert.manufacturer_data.items():
        if company_id == RUUVI_COMPANY_ID:
            return RUUVI_FORMATS.get(data[0]) if data else None
        if company_id == ARANET_COMPANY_ID:
            return BleFormat.ARANET4
    for uuid, data in advert.service_data.items():
        if uuid.lower() == _BTHOME_UUID:
            return BleFormat.BTHOME_V2
        if uuid.lower() == _ENV_SENSING_UUID:
            return _ATC_LENGTHS.get(len(data))
    return None


def _guarded(
    decoder: PayloadDecoder, advert: RawAdvert, data: bytes, key: bytes | None
) -> DecodeResult:
    try:
        return decoder(advert, data, key)
    except Exception as exc:  # the dispatcher's promise: never raise on hostile bytes
        _LOG.debug("decoder %s failed on %s", decoder.__name__, data.hex(), exc_info=True)
        return DecodeError(
            DecodeReason.MALFORMED,
            f"{advert.address}: malformed payload {data.hex()} ({type(exc).__name__}: {exc})",
        )


def decode(advert: RawAdvert, bind_key: bytes | None = None) -> DecodeResult:
    """Decode the first known section of an advertisement (manufacturer data first)."""
    for company_id, data in advert.manufacturer_data.items():
        mfr_decoder = BY_COMPANY_ID.get(company_id)
        if mfr_decoder is not None:
            return _guarded(mfr_decoder, advert, bytes(data), bind_key)
    for uuid, data in advert.service_data.items():
        svc_decoder = BY_SERVICE_UUID.get(uuid.lower())
        if svc_decoder is not None:
            return _guarded(svc_decoder, advert, bytes(data), bind_key)
    companies = ", ".join(f"0x{c:04X}" for c in advert.manufacturer_data) or "-"
    uuids = ", ".join(advert.service_data) or "-"
    return DecodeError(
        DecodeReason.NOT_SUPPORTED,
        f"{advert.address}: no decoder for company id(s) {companies} / service UUID(s) {uuids}",
    )


def parse_bind_key(text: str) -> bytes:
    """A BTHome bind key: 32 hex digits. Raises ValueError saying what is wrong."""
    cleaned = text.strip().replace(" ", "")
    try:
        key = bytes.fromhex(cleaned)
    except ValueError:
        raise ValueError(f"bind key {text!r} is not hexadecimal (32 hex digits expected)") from None
    if len(key) != 16:
        raise ValueError(f"bind key has {len(key)} bytes, must be 16 (32 hex digits)")
    return key


__all__ = [
    "BY_COMPANY_ID",
    "BY_SERVICE_UUID",
    "MODULES",
    "DecodeError",
    "Decoded",
    "decode",
    "identify",
    "import_decoders",
    "parse_bind_key",
]
