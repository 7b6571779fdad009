"""The serial drivers by sensor kind: one table, no if-chain."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Protocol

from edge.config import SensorConfig, SensorKind
from edge.sensors.model import SensorValues
from edge.sensors.serial.mhz19b import MHZ19B_BAUDRATE, Mhz19bDriver
from edge.sensors.serial.modbus import ByteLine
from edge.sensors.serial.scd30 import SCD30_ADDRESS, SCD30_BAUDRATE, Scd30Driver
from edge.sensors.serial.senseair_s8 import S8_ANY_ADDRESS, S8_BAUDRATE, SenseairS8Driver


class SerialDriver(Protocol):
    """Talks to one device on an open line; raises `SerialFault` on a failed exchange."""

    @property
    def quantities(self) -> frozenset[str]:
        """What a healthy device reports; fewer means it reported invalid values."""
        ...

    def read(self, line: ByteLine, timeout_s: float) -> SensorValues | None:
        """The newest values, or None when the device has nothing new yet."""
        ...


@dataclass(frozen=True, slots=True)
class KindDefaults:
    baudrate: int
    address: int | None
    """Default slave address; None for devices without bus addressing (one per port)."""
    make: Callable[[int], SerialDriver]


KINDS: Final[dict[SensorKind, KindDefaults]] = {
    SensorKind.SCD30: KindDefaults(SCD30_BAUDRATE, SCD30_ADDRESS, Scd30Driver),
    SensorKind.SENSEAIR_S8: KindDefaults(S8_BAUDRATE, S8_ANY_ADDRESS, SenseairS8Driver),
    SensorKind.MHZ19B: KindDefaults(MHZ19B_BAUDRATE, None, lambda _address: Mhz19bDriver()),
}


def _defaults(sensor: SensorConfig) -> KindDefaults:
    try:
        return KINDS[sensor.kind]
    except KeyError:
        raise ValueError(
            f"sensor {sensor.id}: {sensor.kind} is not a serial sensor; "
            f"serial kinds are {sorted(KINDS)}"
        ) from None


def baudrate_of(sensor: SensorConfig) -> int:
    return sensor.baudrate or _defaults(sensor).baudrate


def address_of(sensor: SensorConfig) -> int | None:
    if sensor.modbus_address is not None:
        return sensor.modbus_address
    return _defaults(sensor).address


def make_driver(sensor: SensorConfig) -> SerialDriver:
    defaults = _defaults(sensor)
    return defaults.make(address_of(sensor) or 0)
