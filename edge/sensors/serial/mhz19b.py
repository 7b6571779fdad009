"""Winsen MH-Z19B (CO2) over its own 9-byte UART protocol (no Modbus).

Source: Zhengzhou Winsen Electronics, "Intelligent Infrared CO2 Module (Model: MH-Z19B) User's
Manual" v1.0: 9600 baud, 8 data bits, 1 stop bit, no parity. Command "read CO2 concentration"
``FF 01 86 00 00 00 00 00 79``; response ``FF 86 HIGH LOW - - - - CHECKSUM`` with
CO2 = HIGH·256 + LOW ppm. Checksum = 0xFF − (byte1 + … + byte7) + 1 (modulo 256), the manual's
``getCheckSum``; its worked examples: read 0x79, zero-point calibration ``FF 01 87 … 78``,
ABC on ``FF 01 79 A0 … E6``, detection range 5000 ppm ``FF 01 99 00 00 00 13 88 CB``.
"""

from __future__ import annotations

from typing import Final

from edge.sensors.model import SensorValues
from edge.sensors.serial.errors import BadFrame, CrcMismatch, NoAnswer
from edge.sensors.serial.modbus import ByteLine, read_exactly

MHZ19B_BAUDRATE: Final = 9600
FRAME_SIZE: Final = 9
START: Final = 0xFF
SENSOR_NUMBER: Final = 0x01
CMD_READ_CO2: Final = 0x86


def checksum(frame: bytes) -> int:
    """The manual's checksum over bytes 1…7 of a 9-byte frame."""
    if len(frame) < FRAME_SIZE - 1:
        raise ValueError(f"an MH-Z19B frame has {FRAME_SIZE} bytes, got {len(frame)}")
    return (0xFF - (sum(frame[1:8]) & 0xFF) + 1) & 0xFF


def command(code: int, argument: bytes = b"") -> bytes:
    """A command frame: FF 01 <code> <5 argument bytes, zero-padded> <checksum>."""
    if len(argument) > 5:
        raise ValueError(f"MH-Z19B command arguments are at most 5 bytes, got {len(argument)}")
    body = bytes((START, SENSOR_NUMBER, code)) + argument.ljust(5, b"\0")
    return body + bytes((checksum(body),))


READ_CO2_COMMAND: Final = command(CMD_READ_CO2)


def decode_co2_response(frame: bytes) -> int:
    """CO2 in ppm from a read response; raise `BadFrame` or `CrcMismatch` with the reason."""
    if len(frame) != FRAME_SIZE:
        raise BadFrame(f"half frame: {len(frame)} of {FRAME_SIZE} bytes ({frame.hex(' ')})")
    if frame[0] != START or frame[1] != CMD_READ_CO2:
        raise BadFrame(f"not a CO2 response (FF 86 …): {frame.hex(' ')}")
    if checksum(frame) != frame[8]:
        raise CrcMismatch(
            f"checksum 0x{frame[8]:02X}, expected 0x{checksum(frame):02X} in {frame.hex(' ')}"
        )
    return frame[2] * 256 + frame[3]


class Mhz19bDriver:
    quantities: Final = frozenset({"co2_ppm"})
    address = 0

    def read(self, line: ByteLine, timeout_s: float) -> SensorValues | None:
        line.reset_input_buffer()
        line.write(READ_CO2_COMMAND)
        frame = read_exactly(line, FRAME_SIZE, timeout_s)
        if not frame:
            raise NoAnswer(f"MH-Z19B did not answer within {timeout_s:g} s")
        return SensorValues(co2_ppm=float(decode_co2_response(frame)))
