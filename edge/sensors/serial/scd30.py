"""Sensirion SCD30 (CO2, T, RH) in Modbus RTU mode.

Source: Sensirion, "Interface Description Sensirion SCD30 Sensor Module", v1.0 (May 2020),
section 1.1 "Modbus protocol" and 1.4 "Modbus commands": slave address 0x61, 19200 baud, 8 data
bits, no parity, 1 stop bit; holding registers read with function 0x03, commands written with
function 0x06. Register addresses (section 1.4):

- 0x0036 trigger continuous measurement (value: ambient pressure in mbar, 0 = no compensation);
  example frame ``61 06 00 36 00 00 60 64``
- 0x0025 measurement interval in s (2…1800)
- 0x0027 get data ready status (1 = a measurement can be read); ``61 03 00 27 00 01 3D A1``
- 0x0028…0x002D read measurement: CO2 [ppm], T [°C], RH [%] as three big-endian IEEE 754
  floats, high word first; ``61 03 00 28 00 06 4C 60``. Worked example (section 1.5):
  ``43 DB 8C 2E`` = 439.09 ppm.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from typing import Final

from pymodbus.pdu.register_message import (
    ReadHoldingRegistersRequest,
    WriteSingleRegisterRequest,
)

from edge.sensors.model import SensorValues
from edge.sensors.serial.errors import BadFrame
from edge.sensors.serial.modbus import ByteLine, transact

SCD30_ADDRESS: Final = 0x61
SCD30_BAUDRATE: Final = 19200
REG_MEASUREMENT_INTERVAL: Final = 0x0025
REG_DATA_READY: Final = 0x0027
REG_MEASUREMENT: Final = 0x0028
REG_CONTINUOUS_MEASUREMENT: Final = 0x0036
REG_STOP_MEASUREMENT: Final = 0x0037


def registers_to_float(high: int, low: int) -> float:
    """Two 16-bit registers, high word first, as one big-endian IEEE 754 float."""
    value: float = struct.unpack(">f", struct.pack(">HH", high, low))[0]
    return value


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def decode_measurement(registers: Sequence[int]) -> SensorValues:
    """CO2, T and RH from registers 0x0028…0x002D; a NaN/inf float means "not available"."""
    if len(registers) != 6:
        raise BadFrame(f"SCD30 measurement needs 6 registers, got {len(registers)}")
    co2, temperature, humidity = (
        registers_to_float(registers[i], registers[i + 1]) for i in (0, 2, 4)
    )
    return SensorValues(
        co2_ppm=_finite(co2), temperature_c=_finite(temperature), humidity_pct=_finite(humidity)
    )


class Scd30Driver:
    """One SCD30 on a Modbus line; starts continuous measurement on first use."""

    quantities: Final = frozenset({"co2_ppm", "temperature_c", "humidity_pct"})

    def __init__(self, address: int = SCD30_ADDRESS, ambient_pressure_mbar: int = 0) -> None:
        self.address = address
        self.ambient_pressure_mbar = ambient_pressure_mbar
        self._measuring = False

    def read(self, line: ByteLine, timeout_s: float) -> SensorValues | None:
        """The newest measurement, or None when the sensor has none ready yet."""
        if not self._measuring:
            start = WriteSingleRegisterRequest(
                address=REG_CONTINUOUS_MEASUREMENT, registers=[self.ambient_pressure_mbar]
            )
            transact(line, start, self.address, timeout_s)
            self._measuring = True
        ready = transact(
            line,
            ReadHoldingRegistersRequest(address=REG_DATA_READY, count=1),
            self.address,
            timeout_s,
        )
        if not ready.registers or ready.registers[0] != 1:
            return None
        response = transact(
            line,
            ReadHoldingRegistersRequest(address=REG_MEASUREMENT, count=6),
            self.address,
            timeout_s,
        )
        return decode_measurement(response.registers)
