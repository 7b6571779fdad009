"""Types shared by the BLE decoders: a raw advertisement in, a decoded report or a reason out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from edge.sensors.model import SensorValues

RUUVI_COMPANY_ID: Final = 0x0499
ARANET_COMPANY_ID: Final = 0x0702
BTHOME_UUID16: Final = 0xFCD2
"""BTHome v2 service data, https://bthome.io/format/."""
ENV_SENSING_UUID16: Final = 0x181A
"""Environmental Sensing service data: ATC1441 / pvvx custom firmware."""

_EMPTY_MFR: Mapping[int, bytes] = MappingProxyType({})
_EMPTY_SVC: Mapping[str, bytes] = MappingProxyType({})


class BleFormat(StrEnum):
    """The advertisement formats the gateway understands."""

    RUUVI_DF5 = "ruuvi_df5"
    RUUVI_DF6 = "ruuvi_df6"
    RUUVI_E1 = "ruuvi_e1"
    ARANET4 = "aranet4"
    BTHOME_V2 = "bthome_v2"
    ATC1441 = "atc1441"
    PVVX = "pvvx"


class DecodeReason(StrEnum):
    """Why an advertisement gave no values. Each one is something a technician can act on."""

    NOT_SUPPORTED = "not_supported"
    """No decoder for this company id / service UUID / format byte."""
    TRUNCATED = "truncated"
    MALFORMED = "malformed"
    SMART_HOME_OFF = "smart_home_off"
    """Aranet4 with "Smart Home integrations" off: the advert carries no readings."""
    NO_READINGS = "no_readings"
    ENCRYPTED_NO_KEY = "encrypted_no_key"
    WRONG_KEY = "wrong_key"
    PLAINTEXT_WITH_KEY = "plaintext_with_key"
    """A device configured with a bind key sent plaintext: refused (downgrade attack)."""
    BAD_KEY = "bad_key"


@dataclass(frozen=True, slots=True)
class RawAdvert:
    """One BLE advertisement as a scanner reports it.

    ``service_data`` keys are full 128-bit UUID strings in lower case, as bleak gives them
    (``0000fcd2-0000-1000-8000-00805f9b34fb``).
    """

    address: str
    rssi: int | None = None
    manufacturer_data: Mapping[int, bytes] = field(default_factory=lambda: _EMPTY_MFR)
    service_data: Mapping[str, bytes] = field(default_factory=lambda: _EMPTY_SVC)
    local_name: str | None = None


@dataclass(frozen=True, slots=True)
class Decoded:
    """Values decoded from one advertisement."""

    format: BleFormat
    values: SensorValues
    sequence: int | None = None
    """Measurement sequence / packet id / counter; repeated adverts of one measurement share it."""
    age_s: float | None = None
    """How long ago the device measured these values (Aranet4 says so in its advert)."""
    interval_s: float | None = None
    """How often the device measures (Aranet4 says so in its advert): its measurement grid."""


@dataclass(frozen=True, slots=True)
class DecodeError:
    """An advertisement that could not be decoded, with the reason in words."""

    reason: DecodeReason
    message: str
    format: BleFormat | None = None

    def __str__(self) -> str:
        return self.message


DecodeResult = Decoded | DecodeError


def uuid16_to_128(uuid16: int) -> str:
    """A 16-bit SIG UUID in the Bluetooth base UUID, as bleak writes service-data keys."""
    return f"0000{uuid16:04x}-0000-1000-8000-00805f9b34fb"
