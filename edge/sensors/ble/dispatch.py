"""Bytes in, values or a reason out: dispatch tables by company id, service UUID and format byte.

`decode` never raises: anything a decoder or library raises on hostile bytes becomes a
`DecodeError` with the reason, so one bad advert can never stop the scanner loop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Final

from edge.sensors.ble import aranet, atc, bthome, ruuvi
from edge.sensors.ble.model import (
    Decoded,
    DecodeError,
    DecodeReason,
    DecodeResult,
    RawAdvert,
    uuid16_to_128,
)

_LOG = logging.getLogger(__name__)

PayloadDecoder = Callable[[RawAdvert, bytes, bytes | None], DecodeResult]

RUUVI_FORMATS: Final[Mapping[int, Callable[[bytes], DecodeResult]]] = {
    0x05: ruuvi.decode_df5,
    0x06: ruuvi.decode_df6,
    0xE1: ruuvi.decode_e1,
}


def _ruuvi(_advert: RawAdvert, data: bytes, _key: bytes | None) -> DecodeResult:
    if not data:
        return DecodeError(DecodeReason.TRUNCATED, "Ruuvi: empty manufacturer data")
    decoder = RUUVI_FORMATS.get(data[0])
    if decoder is None:
        return DecodeError(
            DecodeReason.NOT_SUPPORTED,
            f"Ruuvi data format 0x{data[0]:02X} is not supported (5, 6 and E1 are) — "
            "update the tag's firmware",
        )
    return decoder(data)


def _aranet(advert: RawAdvert, data: bytes, _key: bytes | None) -> DecodeResult:
    return aranet.decode(advert, data)


def _atc(_advert: RawAdvert, data: bytes, _key: bytes | None) -> DecodeResult:
    return atc.decode(data)


BY_COMPANY_ID: Final[Mapping[int, PayloadDecoder]] = {
    ruuvi.COMPANY_ID: _ruuvi,
    aranet.COMPANY_ID: _aranet,
}
BY_SERVICE_UUID: Final[Mapping[str, PayloadDecoder]] = {
    uuid16_to_128(bthome.SERVICE_UUID16): bthome.decode,
    uuid16_to_128(atc.SERVICE_UUID16): _atc,
}


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


__all__ = ["BY_COMPANY_ID", "BY_SERVICE_UUID", "DecodeError", "Decoded", "decode", "parse_bind_key"]
