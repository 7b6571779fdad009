"""What every sensor driver produces: decoded values and samples, independent of transport."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Final, cast

from edge.wire import Quantity

MAX_UNKNOWN_DEVICES: Final = 1_000
"""Unknown devices a gateway lists (logged once each, for commissioning); more are only counted,
so a crowded radio neighbourhood cannot grow the list without bound."""


@dataclass(frozen=True, slots=True)
class SensorValues:
    """Decoded quantities; ``None`` means the device says "not available" (never a sentinel)."""

    temperature_c: float | None = None
    humidity_pct: float | None = None
    co2_ppm: float | None = None
    pressure_hpa: float | None = None
    battery_mv: float | None = None
    battery_pct: float | None = None
    pm1_ugm3: float | None = None
    pm25_ugm3: float | None = None
    pm4_ugm3: float | None = None
    pm10_ugm3: float | None = None
    voc_index: float | None = None
    nox_index: float | None = None
    illuminance_lux: float | None = None

    def quantities(self) -> dict[Quantity, float]:
        """The available quantities, named with units, as the wire contract carries them."""
        return {cast(Quantity, k): float(v) for k, v in asdict(self).items() if v is not None}


@dataclass(frozen=True, slots=True)
class Sample:
    """One decoded report from one device.

    ``device`` is the device's address as configured: a BLE MAC (``C4:7C:8D:6A:01:02``) or a
    serial address (``/dev/ttyUSB0@97``). ``time`` is set by drivers that know when the device
    measured (history backfill); otherwise the gateway stamps the time it received the sample.
    """

    device: str
    values: SensorValues
    time: datetime | None = None
    sequence: int | None = None
    """Measurement sequence number where the format has one (duplicate adverts share it)."""
    rssi_dbm: int | None = None
    age_s: float | None = None
    """The device measured this long before it sent the sample: the gateway stamps
    ``now − age_s`` (so live readings and history backfill agree on times)."""
    interval_s: float | None = None
    """The device measures every ``interval_s`` (Aranet4): the gateway puts live and backfilled
    times of the device on one grid (`edge.sensors.grid.MeasurementGrid`)."""
