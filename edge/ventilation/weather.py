"""The weather mast on the gateway's RS-485 bus: rain, wind and outdoor temperature.

Register map (input registers, function 0x04; the mast's Modbus module is configured to it)::

    0  rain (0 dry, 1 raining)
    1  wind speed, 0.1 m/s
    2  outdoor temperature, 0.1 °C (signed 16 bit)
    3  status: bit 0 rain sensor fault, bit 1 wind sensor fault, bit 2 temperature sensor fault

A faulty sensor's value is None (the controller closes the windows: a required safety input).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from pymodbus.pdu.register_message import ReadInputRegistersRequest

from edge.sensors.serial.errors import BadFrame
from edge.sensors.serial.modbus import ByteLine, transact

REGISTER_COUNT: Final = 4


@dataclass(frozen=True, slots=True)
class Weather:
    rain: bool | None
    wind_ms: float | None
    outdoor_c: float | None


def decode_weather(registers: Sequence[int]) -> Weather:
    if len(registers) != REGISTER_COUNT:
        raise BadFrame(f"weather mast: expected 4 registers, got {len(registers)}")
    rain, wind, temperature, status = registers
    if rain > 1:
        raise BadFrame(f"weather mast: rain register {rain} is neither 0 nor 1")
    signed = temperature - 0x10000 if temperature >= 0x8000 else temperature
    return Weather(
        None if status & 1 else bool(rain),
        None if status & 2 else wind / 10.0,
        None if status & 4 else signed / 10.0,
    )


def read_weather(line: ByteLine, address: int, timeout_s: float = 0.3) -> Weather:
    request = ReadInputRegistersRequest(address=0, count=REGISTER_COUNT)
    return decode_weather(transact(line, request, address, timeout_s).registers)
