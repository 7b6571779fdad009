"""Aranet4 (SAF Tehnika, company id 0x0702), decoded by the maintained `aranet4` package.

Aranet4 puts its readings in the advertisement only when "Smart Home integrations" is switched
on in the Aranet Home app; otherwise the advert holds just a status byte and the firmware
version. We say so, so a technician can fix it instead of wondering why nothing arrives.
Reference: https://github.com/Anrijs/Aranet4-Python (``Aranet4Advertisement``, its tests).
"""

from __future__ import annotations

from typing import Final

from aranet4.client import Aranet4Advertisement, AranetType

from edge.sensors.ble.model import (
    ARANET_COMPANY_ID,
    BleFormat,
    Decoded,
    DecodeError,
    DecodeReason,
    DecodeResult,
    RawAdvert,
)
from edge.sensors.ble.service_info import to_bleak
from edge.sensors.model import SensorValues

COMPANY_ID: Final = ARANET_COMPANY_ID
_INTEGRATIONS_BIT: Final = 1 << 5
_NOT_AVAILABLE: Final = -1


def _v(value: float) -> float | None:
    """The library marks "not available" with -1; we use None."""
    return None if value == _NOT_AVAILABLE else float(value)


def smart_home_off_message(address: str) -> str:
    return (
        f"Aranet4 {address}: slå 'Smart Home integrations' til i Aranet Home-appen / "
        "enable Smart Home integrations in the Aranet Home app"
    )


def decode(advert: RawAdvert, data: bytes) -> DecodeResult:
    """Aranet4 CO2, T, RH, pressure, battery %, from passive advertisements."""
    fmt = BleFormat.ARANET4
    device, adv = to_bleak(advert)
    parsed = Aranet4Advertisement(device, adv)
    if parsed.manufacturer_data is None:
        return DecodeError(
            DecodeReason.TRUNCATED,
            f"Aranet {advert.address}: {len(data)} bytes of manufacturer data — too short",
            fmt,
        )
    readings = parsed.readings
    if readings is None:
        if not data[0] & _INTEGRATIONS_BIT and len(data) in (7, 22):
            return DecodeError(
                DecodeReason.SMART_HOME_OFF, smart_home_off_message(advert.address), fmt
            )
        return DecodeError(
            DecodeReason.NO_READINGS,
            f"Aranet {advert.address} (firmware {parsed.manufacturer_data.version}): the advert "
            "carries no readings — update the firmware in the Aranet Home app",
            fmt,
        )
    if readings.type not in (AranetType.ARANET4, AranetType.ARANET2):
        return DecodeError(
            DecodeReason.NOT_SUPPORTED,
            f"Aranet {advert.address} is an {readings.type.model}, not a climate sensor",
            fmt,
        )
    return Decoded(
        fmt,
        SensorValues(
            co2_ppm=_v(readings.co2),
            temperature_c=_v(readings.temperature),
            humidity_pct=_v(readings.humidity),
            pressure_hpa=_v(readings.pressure),
            battery_pct=_v(readings.battery),
        ),
        age_s=float(readings.ago) if readings.ago is not None else None,
        interval_s=float(readings.interval) if readings.interval else None,
    )
